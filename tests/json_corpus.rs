//! The native JSON front end (`tokenfetch::json::parse`: serde_json, src/json.rs) over the
//! committed fuzz corpora, fuzz/corpus/<target>/: every file whole, and its body after the first
//! line (the token response and discovery targets put a header line before the JSON).
//!
//! On its own this checks that what parses writes back (`tokenfetch::json::text`) to text that
//! parses to the same value, and that the corpora hold the JSON they should. With
//! `TOKENFETCH_JSON_CANONICAL` set it also prints each input and its canonical text (or `null`)
//! as a JSON line after `json-canonical\t`: tests/js/json-corpus.test.mjs runs this test so and
//! asks the wasm front end (the host's `JSON.parse`) for the same inputs. Extra inputs: the files
//! of the directory named by `TOKENFETCH_JSON_INPUTS`, if set.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tokenfetch::json::{parse, text};

/// The files of `dir`, sorted by name.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// (name, bytes) of every input: each corpus file whole (`<target>/<file>`) and, when it has a
/// first line, what follows it (`<target>/<file>#body`); then the extra inputs (`extra/<file>`).
fn inputs() -> Vec<(String, Vec<u8>)> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut targets: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("fuzz/corpus")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    targets.sort();
    let mut inputs = Vec::new();
    for target in targets {
        for file in files(&target) {
            let name = format!(
                "{}/{}",
                target.file_name().unwrap().to_string_lossy(),
                file.file_name().unwrap().to_string_lossy()
            );
            let bytes = std::fs::read(&file).expect("a corpus file");
            if let Some(newline) = bytes.iter().position(|&b| b == b'\n') {
                inputs.push((format!("{name}#body"), bytes[newline + 1..].to_vec()));
            }
            inputs.push((name, bytes));
        }
    }
    if let Some(extra) = std::env::var_os("TOKENFETCH_JSON_INPUTS") {
        for file in files(Path::new(&extra)) {
            let name = format!("extra/{}", file.file_name().unwrap().to_string_lossy());
            inputs.push((name, std::fs::read(&file).expect("an extra input")));
        }
    }
    inputs
}

#[test]
fn native_json_front_end_over_the_fuzz_corpora_writes_back_what_it_parses() {
    let print = std::env::var_os("TOKENFETCH_JSON_CANONICAL").is_some();
    let mut parsed = Vec::new();
    for (name, bytes) in inputs() {
        let canonical = parse(&bytes).map(|value| {
            let canonical = text(&value);
            assert_eq!(parse(canonical.as_bytes()), Some(value), "{name}: its text parses to another value");
            canonical
        });
        if canonical.is_some() {
            parsed.push(name.clone());
        }
        if print {
            let line = serde_json::json!({ "input": name, "bytes": STANDARD.encode(&bytes), "canonical": canonical });
            println!("json-canonical\t{line}");
        }
    }
    // JWKs and configurations are JSON documents; token responses and discovery documents are
    // JSON after their header line (an HTTP 503 page, a redirect or a form need not be).
    for (target, at_least) in [("jwk/", 8), ("config/", 4), ("token_response/", 7), ("discovery/", 4)] {
        let n = parsed.iter().filter(|name| name.starts_with(target)).count();
        assert!(
            n >= at_least,
            "{n} inputs of {target} parse as JSON, expected at least {at_least}: {parsed:?}"
        );
    }
}
