//! Tiny command-line front end used by the benchmark to measure diff/apply as child processes.
//!
//! `delta diff OLD NEW PATCH [--report]`, `delta apply OLD PATCH OUT`, `delta inspect PATCH`.

use ota_delta::{DiffOptions, cli, diff_with_report, inspect};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("diff") if args.len() >= 4 => {
            if args.iter().any(|a| a == "--report") {
                let old = std::fs::read(&args[1]).expect("read old");
                let new = std::fs::read(&args[2]).expect("read new");
                let t = std::time::Instant::now();
                diff_with_report(&old, &new, &DiffOptions::default()).map(|(p, rep)| {
                    std::fs::write(&args[3], &p).expect("write patch");
                    for c in rep {
                        eprintln!("{:>9} {:<24} {}", c.method.name(), c.variant, c.patch_bytes);
                    }
                    eprintln!("chosen {} bytes in {:.2?}", p.len(), t.elapsed());
                })
            } else {
                cli::run_diff(&args[1], &args[2], &args[3]).map(|h| {
                    eprintln!("{} patch, method {}", h.new_size, h.method.name());
                })
            }
        }
        Some("apply") if args.len() == 4 => {
            cli::run_apply(&args[1], &args[2], &args[3]).map(|r| eprintln!("{r:?}"))
        }
        Some("inspect") if args.len() == 2 => std::fs::File::open(&args[1])
            .map_err(Into::into)
            .and_then(inspect)
            .map(|h| println!("{h:#?}")),
        _ => {
            eprintln!(
                "usage: delta diff OLD NEW PATCH [--report] | apply OLD PATCH OUT | inspect PATCH"
            );
            return ExitCode::from(2);
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
