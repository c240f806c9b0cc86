use clap::Parser;

fn main() -> anyhow::Result<()> {
    // The hidden subcommand `swarm-writer`: one writer process of the swarm workload, started
    // by this same binary (not in --help: it is the harness's own plumbing).
    #[cfg(feature = "sop-engine")]
    {
        let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        if argv
            .first()
            .is_some_and(|a| a == sop_bench::workloads::swarm::WRITER_SUBCOMMAND)
        {
            std::process::exit(sop_bench::workloads::swarm::writer_main(argv));
        }
    }
    let args = sop_bench::Args::parse();
    let report = sop_bench::run(&args)?;
    print!("{}", report.render());
    Ok(())
}
