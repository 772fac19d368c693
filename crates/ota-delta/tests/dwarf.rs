//! Format version 4: `ZstdRef` may predict the old image's DWARF fields (`.debug_info`
//! references, `.debug_ranges` pairs). Round trip on a real pair with debug information.

use ota_delta::DiffOptions;
use ota_delta::oldview::transform_image;
use ota_delta::transform::{self, absolute, dwarf::Dwarf, elf};
use ota_delta::zref;

#[test]
fn real_pair_with_debug_info_roundtrips_through_the_dwarf_prediction() {
    let dir = std::path::Path::new("/work/delta-pairs/rpds-x86_64");
    let (Ok(old), Ok(new)) = (
        std::fs::read(dir.join("old")),
        std::fs::read(dir.join("new")),
    ) else {
        eprintln!("rpds pair not found; skipping");
        return;
    };
    let t = transform::candidates(&old, &new, &DiffOptions::default())
        .pop()
        .expect("a transform")
        .1;
    let d = Dwarf::for_pair(&old, &new, &t, 128 << 20).expect("debug info");
    assert!(d.offs.len() > 100, "offset map learned");
    let old_t = transform_image(&old, &t);
    let code: Vec<_> = elf::parse(&new)
        .unwrap()
        .regions(&new)
        .into_iter()
        .filter(|r| absolute::handles(r.kind))
        .collect();
    let with = zref::encode_ref(&old_t, &t, &new, 3, &code, Some(&d)).unwrap();
    let without = zref::encode_ref(&old_t, &t, &new, 3, &code, None).unwrap();
    eprintln!(
        "level 3: {} bytes with DWARF prediction, {} without",
        with.len(),
        without.len()
    );
    // Size is not asserted: at level 3 the prediction does not pay (at level 22, the level
    // `diff` uses, it saves about 51 KB on this pair); `diff` keeps whichever is smaller.
    for body in [with, without] {
        let mut out = Vec::new();
        zref::apply_ref(&old, &mut &body[..], new.len() as u64, &mut out).unwrap();
        assert!(out == new, "round trip");
    }
}
