//! Benchmark: our patches against bsdiff, xdelta3 and zstd `--patch-from`, side by side.
//!
//! ```text
//! cargo build --release -p ota-delta --examples
//! cargo run --release -p ota-delta --example bench -- PAIRS_DIR... --out docs/benchmarks-delta.md
//! ```
//!
//! A pairs directory either has a `README.md` with table rows "| `OLD` → `NEW` | ..." (like
//! the shared firmware-pairs) or subdirectories holding `old` and `new` (as written by
//! `bench/fetch-pairs.sh`). Every tool runs as a child process under `/usr/bin/time` for wall
//! time and peak RSS, and every apply result is compared byte for byte with the new image.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Pair {
    name: String,
    old: PathBuf,
    new: PathBuf,
}

#[derive(Default, Clone)]
struct Run {
    bytes: u64,
    diff_s: f64,
    diff_kb: u64,
    apply_s: f64,
    apply_kb: u64,
    ok: bool,
    note: String,
}

fn discover(dir: &Path) -> Vec<Pair> {
    let mut out = Vec::new();
    if let Ok(readme) = std::fs::read_to_string(dir.join("README.md")) {
        for line in readme.lines() {
            let ticks: Vec<&str> = line.split('`').collect();
            if line.starts_with("| `") && line.contains('→') && ticks.len() >= 4 {
                let (a, b) = (ticks[1], ticks[3]);
                if dir.join(a).is_file() && dir.join(b).is_file() {
                    let name = a.rsplit_once('.').map_or(a, |x| x.0).to_string();
                    out.push(Pair {
                        name,
                        old: dir.join(a),
                        new: dir.join(b),
                    });
                }
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut subs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        subs.sort();
        for s in subs {
            if s.join("old").is_file() && s.join("new").is_file() {
                out.push(Pair {
                    name: s.file_name().unwrap().to_string_lossy().into_owned(),
                    old: s.join("old"),
                    new: s.join("new"),
                });
            }
        }
    }
    out
}

/// Runs `cmd` under /usr/bin/time; returns (seconds, peak KiB, stderr).
fn timed(cmd: &[&str]) -> Option<(f64, u64, String)> {
    let tf = std::env::temp_dir().join(format!("bench-time-{}", std::process::id()));
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%e %M")
        .arg("-o")
        .arg(&tf)
        .args(cmd)
        .output()
        .ok()?;
    let t = std::fs::read_to_string(&tf).ok()?;
    let _ = std::fs::remove_file(&tf);
    if !out.status.success() {
        eprintln!("failed: {cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let mut it = t.split_whitespace();
    let s = it.next()?.parse().ok()?;
    let kb = it.next()?.parse().ok()?;
    Some((s, kb, String::from_utf8_lossy(&out.stderr).into_owned()))
}

fn same(a: &Path, b: &Path) -> bool {
    matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
}

fn run_tool(diff: &[&str], apply: &[&str], patch: &Path, out: &Path, new: &Path) -> Run {
    let mut r = Run::default();
    if let Some((s, kb, err)) = timed(diff) {
        r.diff_s = s;
        r.diff_kb = kb;
        r.note = err;
        r.bytes = std::fs::metadata(patch).map(|m| m.len()).unwrap_or(0);
        if let Some((s, kb, err)) = timed(apply) {
            r.apply_s = s;
            r.apply_kb = kb;
            r.ok = same(out, new);
            r.note.push_str(&err);
        }
    }
    r
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut dirs = Vec::new();
    let mut out_path = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--out" {
            out_path = it.next().cloned();
        } else {
            dirs.push(PathBuf::from(a));
        }
    }
    let me = std::env::current_exe().expect("exe");
    let delta = me.with_file_name("delta");
    assert!(
        delta.is_file(),
        "build the CLI first: cargo build --release -p ota-delta --examples"
    );
    let delta = delta.to_string_lossy().into_owned();
    let work = tempfile_dir();
    let p = |n: &str| work.join(n).to_string_lossy().into_owned();
    let (po, pout) = (p("ours.otad"), p("out"));
    let mut rows = Vec::new();
    for dir in &dirs {
        for pair in discover(dir) {
            let (o, n) = (pair.old.to_string_lossy(), pair.new.to_string_lossy());
            eprintln!("== {}", pair.name);
            let ours = run_tool(
                &[&delta, "diff", &o, &n, &po],
                &[&delta, "apply", &o, &po, &pout],
                Path::new(&po),
                Path::new(&pout),
                &pair.new,
            );
            let pb = p("p.bsdiff");
            let bs = run_tool(
                &["bsdiff", &o, &n, &pb],
                &["bspatch", &o, &pout, &pb],
                Path::new(&pb),
                Path::new(&pout),
                &pair.new,
            );
            let px = p("p.xd3");
            let xd = run_tool(
                &["xdelta3", "-9", "-f", "-e", "-s", &o, &n, &px],
                &["xdelta3", "-f", "-d", "-s", &o, &px, &pout],
                Path::new(&px),
                Path::new(&pout),
                &pair.new,
            );
            let pz = p("p.zst");
            let from = format!("--patch-from={o}");
            let zs = run_tool(
                &[
                    "zstd",
                    "-q",
                    "-f",
                    "--ultra",
                    "-22",
                    "--long=27",
                    &from,
                    &n,
                    "-o",
                    &pz,
                ],
                &[
                    "zstd",
                    "-q",
                    "-f",
                    "-d",
                    "--long=27",
                    &from,
                    &pz,
                    "-o",
                    &pout,
                ],
                Path::new(&pz),
                Path::new(&pout),
                &pair.new,
            );
            let size = std::fs::metadata(&pair.new).map(|m| m.len()).unwrap_or(0);
            let method = std::fs::File::open(&po)
                .ok()
                .and_then(|f| ota_delta::inspect(f).ok())
                .map(|h| (h.method.name(), h.apply_memory))
                .unwrap_or(("?", 0));
            let wm = ours
                .note
                .split("working_memory: ")
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            eprintln!(
                "   ours {} ({}) bsdiff {} xdelta3 {} zstd {}",
                ours.bytes, method.0, bs.bytes, xd.bytes, zs.bytes
            );
            rows.push((pair.name, size, ours, method.0, wm, bs, xd, zs));
        }
    }
    let mut md = String::new();
    let _ = writeln!(md, "# Delta benchmark\n");
    let _ = writeln!(
        md,
        "Generated by `cargo run --release -p ota-delta --example bench -- {} --out ...` \
         (after `cargo build --release -p ota-delta --examples`). Patch bytes, smaller is \
         better; every apply was checked byte for byte (✓). Peers: `bsdiff` 4.3, \
         `xdelta3 -9 -e -s`, `zstd -q --ultra -22 --long=27 --patch-from`. \
         Ratio = ours / best peer.\n",
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        md,
        "| pair | new size | ours | method | bsdiff | xdelta3 | zstd patch-from | ratio |"
    );
    let _ = writeln!(md, "|---|---:|---:|---|---:|---:|---:|---:|");
    let ck = |r: &Run| if r.ok { "✓" } else { "✗" };
    for (name, size, ours, method, _, bs, xd, zs) in &rows {
        let best = [bs.bytes, xd.bytes, zs.bytes]
            .into_iter()
            .filter(|&b| b > 0)
            .min()
            .unwrap_or(0);
        let _ = writeln!(
            md,
            "| {name} | {size} | {} {} | {method} | {} {} | {} {} | {} {} | {:.3} |",
            ours.bytes,
            ck(ours),
            bs.bytes,
            ck(bs),
            xd.bytes,
            ck(xd),
            zs.bytes,
            ck(zs),
            ours.bytes as f64 / best.max(1) as f64
        );
    }
    let _ = writeln!(
        md,
        "\nTime (s) and peak RSS (MiB) of each tool as a child process, diff / apply. \
         \"ours wm\" is the apply working memory our decoder reports (buffers, zstd windows, \
         transform tables; excludes reading the old image), in KiB.\n"
    );
    let _ = writeln!(
        md,
        "| pair | ours diff | ours apply | ours wm | bsdiff diff | bspatch | xdelta3 diff | xdelta3 apply | zstd diff | zstd apply |"
    );
    let _ = writeln!(md, "|---|---|---|---:|---|---|---|---|---|---|");
    let f = |s: f64, kb: u64| format!("{s:.2} s / {:.1}", kb as f64 / 1024.0);
    for (name, _, ours, _, wm, bs, xd, zs) in &rows {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f(ours.diff_s, ours.diff_kb),
            f(ours.apply_s, ours.apply_kb),
            wm / 1024,
            f(bs.diff_s, bs.diff_kb),
            f(bs.apply_s, bs.apply_kb),
            f(xd.diff_s, xd.diff_kb),
            f(xd.apply_s, xd.apply_kb),
            f(zs.diff_s, zs.diff_kb),
            f(zs.apply_s, zs.apply_kb),
        );
    }
    match out_path {
        Some(p) => std::fs::write(&p, &md).expect("write report"),
        None => print!("{md}"),
    }
    let _ = std::fs::remove_dir_all(&work);
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("ota-delta-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
