use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = sop_bench::Args::parse();
    let report = sop_bench::run(&args)?;
    print!("{}", report.render());
    Ok(())
}
