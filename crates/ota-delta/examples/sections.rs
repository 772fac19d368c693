//! Developer tool: where do the bytes of a `ZstdRef` (absolute-target form) patch go, per
//! section of the new image?
//!
//! `sections OLD NEW` learns the transform like `diff`, converts both images as the
//! `ZstdRef` candidate does, and prints for every section of the new image (sections below
//! 4 KiB are pooled) its size and the cost of compressing it alone with zstd -22 against (a)
//! the whole converted old image and (b) the old section of the same name only. The old
//! image is DWARF-predicted unless `NO_DWARF` is set; with `LZMA` set, parts are coded with
//! LZMA (`lc=3 lp=0 pb=2`) instead of zstd; with `DUMP=PREFIX`, the two converted images are
//! written to `PREFIX.old` and `PREFIX.new` and nothing is measured.

use ota_delta::DiffOptions;
use ota_delta::container::{ZstdParams, zstd_compress};
use ota_delta::oldview::transform_image;
use ota_delta::transform::dwarf::Dwarf;
use ota_delta::transform::{self, absolute, elf};
use ota_delta::zref::ref_window_log;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let old = std::fs::read(&a[1]).expect("old");
    let new = std::fs::read(&a[2]).expect("new");
    let opts = DiffOptions::default();
    let cands = transform::candidates(&old, &new, &opts);
    let t = cands.last().map(|c| c.1.clone()).unwrap_or_default();
    let eo = elf::parse(&old).expect("old elf");
    let en = elf::parse(&new).expect("new elf");
    let mut old_a = transform_image(&old, &t);
    if std::env::var("NO_DWARF").is_err()
        && let Some(d) = Dwarf::for_pair(&old, &new, &t, opts.max_window)
    {
        d.apply(&mut old_a, &t);
    }
    absolute::forward(&mut old_a, &t.regions, &|x| t.map.map(x));
    let code: Vec<_> = en
        .regions(&new)
        .into_iter()
        .filter(|r| absolute::handles(r.kind))
        .collect();
    let mut new_a = new.clone();
    absolute::forward(&mut new_a, &code, &|x| x);
    let p = ZstdParams {
        level: 22,
        window_log: ref_window_log(old.len(), new.len()),
    };
    if let Ok(d) = std::env::var("DUMP") {
        std::fs::write(format!("{d}.old"), &old_a).unwrap();
        std::fs::write(format!("{d}.new"), &new_a).unwrap();
        return;
    }
    let whole = zstd_compress(&new_a, p, Some(&old_a)).unwrap().len();
    println!("whole frame {whole}");
    // Pieces: every section with file bytes, plus the gaps between them.
    let mut secs: Vec<(String, u64, u64)> = en
        .sections
        .iter()
        .filter(|s| s.typ != 8 && s.size > 0)
        .map(|s| (s.name.clone(), s.off, s.size))
        .collect();
    secs.sort_by_key(|s| s.1);
    let mut pieces = Vec::new();
    let mut cur = 0u64;
    for (n, o, s) in secs {
        if o > cur {
            pieces.push(("(gap)".to_string(), cur, o - cur));
        }
        if o + s > cur {
            pieces.push((n, o.max(cur), o + s - o.max(cur)));
            cur = o + s;
        }
    }
    if (cur as usize) < new.len() {
        pieces.push(("(tail)".into(), cur, new.len() as u64 - cur));
    }
    let mut small = (0u64, 0usize, 0usize);
    let mut sum = 0usize;
    println!(
        "{:20} {:>9} {:>9} {:>9}",
        "section", "size", "vs-old", "vs-sect"
    );
    for (n, o, s) in pieces {
        let part = &new_a[o as usize..(o + s) as usize];
        let lz = std::env::var("LZMA").is_ok();
        let comp = |part: &[u8], r: &[u8]| {
            if lz {
                ota_delta::lzref::compress(part, r, ota_delta::lzref::LzmaParams::WORD)
                    .unwrap()
                    .len()
            } else {
                zstd_compress(part, p, Some(r)).unwrap().len()
            }
        };
        let c = comp(part, &old_a);
        let os = eo
            .sections
            .iter()
            .find(|x| x.name == n && x.typ != 8)
            .map(|x| &old_a[x.off as usize..(x.off + x.size) as usize]);
        let cs = os.map(|os| comp(part, os)).unwrap_or(c);
        sum += c;
        if s < 4096 {
            small.0 += s;
            small.1 += c;
            small.2 += cs;
            continue;
        }
        println!("{n:20} {s:>9} {c:>9} {cs:>9}");
    }
    println!(
        "{:20} {:>9} {:>9} {:>9}",
        "(small)", small.0, small.1, small.2
    );
    println!("sum of parts {sum}");
}
