//! A model saved with a UTF-8 byte-order mark loads; a file that is not UTF-8 is told the
//! line and byte offset of its first bad byte.

use crate::common::{cli, scratch, stderr};

#[test]
fn utf8_bom_is_accepted() {
    let dir = scratch("bom");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/mm1.ron")).unwrap());
    let path = dir.join("bom.ron");
    std::fs::write(&path, bytes).unwrap();
    let out = cli(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn non_utf8_file_is_told_where_the_bad_byte_is() {
    let dir = scratch("latin1");
    let path = dir.join("latin1.ron");
    // "café" in Latin-1 on line 3.
    std::fs::write(
        &path,
        b"Topology(\n    name: \"x\",\n    description: \"caf\xE9\",\n)\n",
    )
    .unwrap();
    let out = cli(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("latin1.ron:3:22: error"), "{err}");
    assert!(
        err.contains("byte 0xE9 at byte offset 46 (line 3)"),
        "{err}"
    );
}
