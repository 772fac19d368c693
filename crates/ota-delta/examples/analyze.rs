//! Developer tool: where do the remaining patch bytes come from?
//!
//! `analyze OLD NEW` learns the reference projection like `diff`, matches, and prints, per
//! section of the new image, the number of difference bytes that are non-zero and the number
//! of extra (literal) bytes, plus the compressed size of each stream.

use ota_delta::container::{ZstdParams, zstd_compress};
use ota_delta::encode::match_images;
use ota_delta::oldview::transform_image;
use ota_delta::transform::{self, elf};
use ota_delta::{DiffOptions, bsd};
use std::collections::BTreeMap;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let old = std::fs::read(&a[1]).expect("old");
    let new = std::fs::read(&a[2]).expect("new");
    let which: usize = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let opts = DiffOptions::default();
    let cands = transform::candidates(&old, &new, &opts);
    let t = cands.get(which).map(|c| c.1.clone()).unwrap_or_default();
    println!("map entries {}, regions {}", t.map.len(), t.regions.len());
    let old_t = transform_image(&old, &t);
    if let Ok(p) = std::env::var("DUMP_OLDT") {
        std::fs::write(p, &old_t).expect("dump");
    }
    let m = match_images(&old_t, &new, opts.max_window);
    let [c, v, e, r] = bsd::build_streams(&t, &old_t, &new, &m);
    let d: Vec<u8> = {
        let mut d = Vec::new();
        let mut op = 0i64;
        let mut np = 0usize;
        for rec in &m.records {
            for k in 0..rec.diff_len as usize {
                d.push(new[np + k].wrapping_sub(old_t[op as usize + k]));
            }
            np += (rec.diff_len + rec.extra_len) as usize;
            op += rec.diff_len as i64 + rec.seek;
        }
        d
    };
    let p = ZstdParams {
        level: 22,
        window_log: 18,
    };
    for (name, s) in [
        ("ctrl", &c),
        ("vals", &v),
        ("extra", &e),
        ("runs", &r),
        ("diff", &d),
    ] {
        let z = zstd_compress(s, p, None).unwrap().len();
        println!("{name:6} raw {:>9} zstd {:>8}", s.len(), z);
    }
    println!("records {}", m.records.len());
    let en = elf::parse(&new);
    let sec_of = |off: u64| -> String {
        en.as_ref()
            .and_then(|e| {
                e.sections
                    .iter()
                    .filter(|s| s.typ != 8 && off >= s.off && off < s.off + s.size)
                    .map(|s| s.name.clone())
                    .next()
            })
            .unwrap_or_else(|| "?".into())
    };
    let mut stats: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let (mut np, mut dp) = (0u64, 0usize);
    for r in &m.records {
        for k in 0..r.diff_len {
            let s = stats.entry(sec_of(np + k)).or_default();
            s.0 += 1;
            if d[dp + k as usize] != 0 {
                s.1 += 1;
            }
        }
        if std::env::var("DUMP").is_ok() {
            let mut op = 0i64;
            let _ = &mut op;
            for k in (0..r.diff_len as usize).step_by(1) {
                if d[dp + k] != 0 && sec_of(np + k as u64) == ".text" {
                    let a = (np as usize + k) & !3;
                    let nw = u32::from_le_bytes(new[a..a + 4].try_into().unwrap());
                    println!("D {:x} new {:08x} diff {:02x}", a, nw, d[dp + k]);
                }
            }
        }
        dp += r.diff_len as usize;
        np += r.diff_len;
        for k in 0..r.extra_len {
            stats.entry(sec_of(np + k)).or_default().2 += 1;
        }
        np += r.extra_len;
    }
    println!(
        "{:20} {:>9} {:>9} {:>9}",
        "section", "diffed", "nonzero", "extra"
    );
    for (k, v) in stats {
        println!("{k:20} {:>9} {:>9} {:>9}", v.0, v.1, v.2);
    }
}
