//! Developer tool: size of the learned DWARF offset map and the `.debug_info` cost with it.
use ota_delta::DiffOptions;
use ota_delta::container::{ZstdParams, zstd_compress};
use ota_delta::oldview::transform_image;
use ota_delta::transform::dwarf::Dwarf;
use ota_delta::transform::{self, elf};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let old = std::fs::read(&a[1]).expect("old");
    let new = std::fs::read(&a[2]).expect("new");
    let t = transform::candidates(&old, &new, &DiffOptions::default())
        .pop()
        .unwrap()
        .1;
    let d = Dwarf::for_pair(&old, &new, &t, 128 << 20).expect("dwarf");
    let mut tt = Vec::new();
    t.encode(&mut tt);
    let ttz = zstd_compress(
        &tt,
        ZstdParams {
            level: 22,
            window_log: 20,
        },
        None,
    )
    .unwrap()
    .len();
    println!(
        "transform: map {} entries, names {}, {} bytes, {} compressed",
        t.map.len(),
        t.names.len(),
        tt.len(),
        ttz
    );
    let mut tb = Vec::new();
    d.encode(&mut tb);
    let tz = zstd_compress(
        &tb,
        ZstdParams {
            level: 22,
            window_log: 20,
        },
        None,
    )
    .unwrap()
    .len();
    println!(
        "offset map entries {}, table {} bytes, {} compressed",
        d.offs.len(),
        tb.len(),
        tz
    );
    let mut o = transform_image(&old, &t);
    let en = elf::parse(&new).unwrap();
    let eo = elf::parse(&old).unwrap();
    let sec = |e: &elf::Elf, n: &str| {
        e.sections
            .iter()
            .find(|s| s.name == n)
            .map(|s| (s.off as usize, (s.off + s.size) as usize))
            .unwrap()
    };
    let (ns, ne) = sec(&en, ".debug_info");
    let (os, oe) = sec(&eo, ".debug_info");
    let p = ZstdParams {
        level: 22,
        window_log: 24,
    };
    let before = zstd_compress(&new[ns..ne], p, Some(&o[os..oe]))
        .unwrap()
        .len();
    d.apply(&mut o, &t);
    let after = zstd_compress(&new[ns..ne], p, Some(&o[os..oe]))
        .unwrap()
        .len();
    println!("debug_info vs old section: before {before} after {after}");
    if let Ok(f) = std::env::var("DUMP") {
        std::fs::write(format!("{f}.old"), &o[os..oe]).unwrap();
        std::fs::write(format!("{f}.new"), &new[ns..ne]).unwrap();
    }
}
