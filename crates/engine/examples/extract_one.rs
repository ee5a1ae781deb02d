fn main() {
    let path = std::env::args().nth(1).unwrap();
    let mut bytes = Vec::new();
    use std::io::Read;
    if path.ends_with(".gz") {
        flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()).read_to_end(&mut bytes).unwrap();
    } else {
        bytes = std::fs::read(&path).unwrap();
    }
    match newswatch_engine::ingest(&bytes, std::path::Path::new("x.html")) {
        Ok(a) => println!("TITLE: {}\n{}", a[0].title, a[0].body),
        Err(e) => println!("ERR {e}"),
    }
}
