//! The Lua runtime a script runs in, and its limits.
//!
//! Each run gets a fresh Lua 5.4 state with only the safe standard libraries:
//! base (less `load`, `loadfile`, `dofile`, `collectgarbage`; `print` goes to
//! the log), `string`, `table`, `math`, `utf8`, `coroutine`, and an `os` that
//! holds only `time` and `clock`. There is no `io`, no `package`/`require`, no
//! `debug`, no other `os` function: a script cannot reach files, the network or
//! processes. Chunks load as text only (never precompiled bytecode).
//!
//! Limits per run, or per step of a run that commits in steps ([`Limits`]): instructions, counted by a hook every
//! [`HOOK_EVERY`] instructions (coroutines inherit it); wall-clock time, checked
//! by the same hook; and memory, through the state's allocator. Once a limit is
//! hit every later hook call fails again, so a script that catches the error
//! with `pcall` is still stopped, and the run is reported as stopped whatever
//! the script returns.

use crate::error::{Result, SwarmError};
use mlua::{HookTriggers, Lua, LuaOptions, StdLib, VmState};
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The hook runs every this many VM instructions.
pub const HOOK_EVERY: u32 = 10_000;

/// What one run may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// VM instructions (counted in steps of [`HOOK_EVERY`]).
    pub instructions: u64,
    /// Bytes the Lua state may allocate.
    pub memory: usize,
    /// Wall-clock time of the run (the script's own work, engine calls included).
    pub time: Duration,
}

impl Default for Limits {
    /// 200 million instructions, 64 MiB, 30 s.
    fn default() -> Self {
        Limits {
            instructions: 200_000_000,
            memory: 64 << 20,
            time: Duration::from_secs(30),
        }
    }
}

/// Which limit stopped a run, if any; and the step's instruction count and
/// deadline, which start again at every step of a run that commits in steps.
#[derive(Debug, Clone)]
pub struct Tripwire {
    hit: Rc<Cell<Option<&'static str>>>,
    steps: Rc<Cell<u64>>,
    deadline: Rc<Cell<Instant>>,
}

impl Tripwire {
    /// Start a new step: its instructions and time count from zero.
    pub fn restart(&self, limits: &Limits) {
        self.steps.set(0);
        self.deadline.set(Instant::now() + limits.time);
    }
    /// The limit that was hit ("instruction", "time", "memory").
    pub fn hit(&self) -> Option<&'static str> {
        self.hit.get()
    }
    fn set(&self, what: &'static str) {
        if self.hit.get().is_none() {
            self.hit.set(Some(what));
        }
    }
}

/// Wraps the functions that catch errors so that a limit's error is raised again.
const GUARD: &str = r#"
local tripped = ...
local raw_pcall, raw_xpcall, raw_resume = pcall, xpcall, coroutine.resume
local function check(...)
  local why = tripped()
  if why then error(why, 0) end
  return ...
end
pcall = function(...) return check(raw_pcall(...)) end
xpcall = function(...) return check(raw_xpcall(...)) end
coroutine.resume = function(...) return check(raw_resume(...)) end
"#;

/// A fresh sandboxed Lua state with `limits` armed.
pub fn new_state(limits: &Limits) -> Result<(Lua, Tripwire)> {
    let libs = StdLib::STRING | StdLib::TABLE | StdLib::MATH | StdLib::UTF8 | StdLib::COROUTINE;
    let lua = Lua::new_with(libs, LuaOptions::default()).map_err(lua_setup)?;
    let g = lua.globals();
    for name in ["load", "loadfile", "dofile", "collectgarbage", "require"] {
        g.raw_set(name, mlua::Value::Nil).map_err(lua_setup)?;
    }
    let print = lua
        .create_function(|_, args: mlua::Variadic<mlua::Value>| {
            let parts: Vec<String> = args
                .iter()
                .map(|v| v.to_string().unwrap_or_else(|_| "?".into()))
                .collect();
            tracing::info!(target: "sop_swarm::script", "{}", parts.join("\t"));
            Ok(())
        })
        .map_err(lua_setup)?;
    g.raw_set("print", print).map_err(lua_setup)?;
    let os = lua.create_table().map_err(lua_setup)?;
    let start = Instant::now();
    os.raw_set(
        "time",
        lua.create_function(|_, ()| Ok(crate::time::now_ms() as i64 / 1000))
            .map_err(lua_setup)?,
    )
    .map_err(lua_setup)?;
    os.raw_set(
        "clock",
        lua.create_function(move |_, ()| Ok(start.elapsed().as_secs_f64()))
            .map_err(lua_setup)?,
    )
    .map_err(lua_setup)?;
    g.raw_set("os", os).map_err(lua_setup)?;

    let trip = Tripwire {
        hit: Rc::default(),
        steps: Rc::default(),
        deadline: Rc::new(Cell::new(start + limits.time)),
    };
    let t = trip.clone();
    let max_steps = limits.instructions / HOOK_EVERY as u64;
    let (steps, deadline) = (trip.steps.clone(), trip.deadline.clone());
    let (max_i, max_t) = (limits.instructions, limits.time);
    // A global hook: Lua's coroutines inherit it (a thread hook of mlua's is
    // looked up per thread, and a coroutine would run unhooked).
    lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |_, _| {
            steps.set(steps.get() + 1);
            if steps.get() > max_steps {
                t.set("instruction");
            } else if Instant::now() > deadline.get() {
                t.set("time");
            }
            match t.hit() {
                Some("instruction") => Err(mlua::Error::RuntimeError(format!(
                    "instruction limit reached ({max_i} instructions)"
                ))),
                Some(_) => Err(mlua::Error::RuntimeError(format!(
                    "time limit reached ({max_t:?})"
                ))),
                None => Ok(VmState::Continue),
            }
        },
    )
    .map_err(lua_setup)?;
    // `pcall`, `xpcall` and `coroutine.resume` catch errors: once a limit is
    // hit, they raise it again, so the run ends whatever the script catches.
    let t = trip.clone();
    let tripped = lua
        .create_function(move |_, ()| {
            Ok(t.hit()
                .map(|what| format!("the script was stopped: {what} limit reached")))
        })
        .map_err(lua_setup)?;
    lua.load(GUARD)
        .set_name("=sandbox")
        .into_function()
        .and_then(|f| f.call::<()>(tripped))
        .map_err(lua_setup)?;
    lua.set_memory_limit(limits.memory).map_err(lua_setup)?;
    Ok((lua, trip))
}

fn lua_setup(e: mlua::Error) -> SwarmError {
    SwarmError::Script(format!("cannot set up the Lua state: {e}"))
}

/// The error for a run that ended with `e`, given what the tripwire saw:
/// a limit error if a limit stopped it, else the script's error with its stack.
pub fn run_error(e: &mlua::Error, trip: &Tripwire, limits: &Limits) -> SwarmError {
    if let Some(what) = trip.hit() {
        return limit_error(what, limits);
    }
    if is_memory_error(e) {
        return limit_error("memory", limits);
    }
    SwarmError::Script(e.to_string())
}

/// The error for a limit that stopped a run.
pub fn limit_error(what: &str, limits: &Limits) -> SwarmError {
    SwarmError::Limit(match what {
        "instruction" => format!(
            "the script was stopped: instruction limit reached ({} instructions)",
            limits.instructions
        ),
        "time" => format!(
            "the script was stopped: time limit reached ({:?})",
            limits.time
        ),
        _ => format!(
            "the script was stopped: memory limit reached ({} bytes)",
            limits.memory
        ),
    })
}

fn is_memory_error(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } => is_memory_error(cause),
        mlua::Error::WithContext { cause, .. } => is_memory_error(cause),
        _ => false,
    }
}
