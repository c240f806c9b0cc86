//! `sop-cutfs mount DIR [--keep-appends] [--seed N]`: mount a cutfs on DIR in the
//! foreground until SIGINT or SIGTERM (or `umount DIR`).
//! `sop-cutfs cut DIR [keep]`: cut the power of the cutfs mounted on DIR.
//! `sop-cutfs off DIR` / `sop-cutfs on DIR`: the two halves of a cut.
//! `sop-cutfs status DIR`: its counters.

use sop_cutfs::model::CONTROL_NAME;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

fn usage() -> ExitCode {
    eprintln!(
        "usage: sop-cutfs mount DIR [--keep-appends] [--seed N]\n       sop-cutfs cut DIR [keep]\n       sop-cutfs off|on|status DIR"
    );
    ExitCode::from(2)
}

fn control(dir: &Path, cmd: &str) -> std::io::Result<()> {
    std::fs::write(dir.join(CONTROL_NAME), cmd)
}

fn mount(dir: &Path, rest: &[String]) -> ExitCode {
    let mut fs = sop_cutfs::CutFs::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--keep-appends" => fs = fs.keep_unsynced_appends(true),
            "--seed" => match it.next().and_then(|s| s.parse().ok()) {
                Some(s) => fs = fs.seed(s),
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    // Block the signals in every thread; this one waits for them.
    // SAFETY: plain signal-mask calls on a local, initialised set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let m = match fs.mount(dir) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "cutfs mounted on {} (write `cut` to {}/{CONTROL_NAME} to cut)",
        dir.display(),
        dir.display()
    );
    loop {
        let ts = libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        // SAFETY: waits for a signal of the blocked set; no memory is shared.
        let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) };
        if sig > 0 {
            break;
        }
        // Unmounted from outside: the mount point is no longer a cutfs.
        if std::fs::metadata(dir.join(CONTROL_NAME)).is_err() {
            std::thread::sleep(Duration::from_millis(10));
            if std::fs::metadata(dir.join(CONTROL_NAME)).is_err() {
                break;
            }
        }
    }
    match m.unmount() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(cmd), Some(dir)) = (args.first(), args.get(1)) else {
        return usage();
    };
    let dir = Path::new(dir);
    let r = match cmd.as_str() {
        "mount" => return mount(dir, &args[2..]),
        "cut" if args.get(2).map(String::as_str) == Some("keep") => control(dir, "cut keep"),
        "cut" | "off" | "on" => control(dir, cmd),
        "status" => std::fs::read_to_string(dir.join(CONTROL_NAME)).map(|s| print!("{s}")),
        _ => return usage(),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sop-cutfs {cmd} {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
