//! What a download is, by its first bytes (`Core/IO/FileIdentifier.cs`), and its size and
//! hashes (`Netkan/Services/FileService.cs`).
//!
//! The checks run in CKAN's order: gzip (then tar inside it), tar, zip, text, and the first to
//! succeed wins. "Text" means no NUL byte among the first 32 KiB except possibly the last byte
//! read (CKAN's loop stops one short), so an empty file is text.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use sha1::Digest;

/// What [`identify`] finds (`CKAN.IO.FileType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Ascii,
    GZip,
    Tar,
    TarGz,
    Zip,
    Unknown,
}

impl FileType {
    /// The MIME type `download_content_type` gets (`FileService.GetMimetype`).
    pub fn mime_type(self) -> &'static str {
        match self {
            FileType::Ascii => "text/plain",
            FileType::GZip => "application/x-gzip",
            FileType::Tar => "application/x-tar",
            FileType::TarGz => "application/x-compressed-tar",
            FileType::Zip => "application/zip",
            FileType::Unknown => "application/octet-stream",
        }
    }
}

const TAR_MAGIC_OFFSET: usize = 257;
const TAR_MAGIC: &[u8; 5] = b"ustar";
/// A tar with no files is this many NUL bytes and no magic.
const EMPTY_TAR_LEN: usize = 10240;

/// `FileIdentifier.IdentifyFile(path)`.
///
/// # Errors
/// If the file cannot be read.
pub fn identify(path: &Path) -> io::Result<FileType> {
    let mut head = Vec::with_capacity(32 * 1024);
    File::open(path)?.take(32 * 1024).read_to_end(&mut head)?;
    if head.starts_with(&[0x1F, 0x8B]) {
        // A damaged gzip stream is still a gzip file; only its contents are unknown.
        let inner = File::open(path)?;
        let is_tar = is_tar(flate2::read::GzDecoder::new(BufReader::new(inner))).unwrap_or(false);
        return Ok(if is_tar {
            FileType::TarGz
        } else {
            FileType::GZip
        });
    }
    if is_tar(File::open(path)?)? {
        return Ok(FileType::Tar);
    }
    if [b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"]
        .iter()
        .any(|magic| head.starts_with(*magic))
    {
        return Ok(FileType::Zip);
    }
    // CKAN's loop runs to `bytes_read - 1`, so the last byte read is never looked at.
    let checked = head.len().saturating_sub(1);
    if !head[..checked].contains(&0) {
        return Ok(FileType::Ascii);
    }
    Ok(FileType::Unknown)
}

/// `CheckTar`: the `ustar` magic at offset 257, or exactly the 10240 NUL bytes of an empty tar.
fn is_tar(reader: impl Read) -> io::Result<bool> {
    let mut reader = BufReader::new(reader);
    let mut head = Vec::with_capacity(TAR_MAGIC_OFFSET + TAR_MAGIC.len());
    (&mut reader)
        .take((TAR_MAGIC_OFFSET + TAR_MAGIC.len()) as u64)
        .read_to_end(&mut head)?;
    if head.len() < TAR_MAGIC_OFFSET + TAR_MAGIC.len() {
        return Ok(false);
    }
    if &head[TAR_MAGIC_OFFSET..] == TAR_MAGIC {
        return Ok(true);
    }
    if head.iter().all(|&b| b == 0) {
        let mut rest = Vec::new();
        reader
            .take((EMPTY_TAR_LEN - head.len() + 1) as u64)
            .read_to_end(&mut rest)?;
        return Ok(head.len() + rest.len() == EMPTY_TAR_LEN && rest.iter().all(|&b| b == 0));
    }
    Ok(false)
}

/// Size and hashes of a file, hashes in upper-case hex as CKAN writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    pub size: u64,
    pub sha1: String,
    pub sha256: String,
}

/// Reads the file once and computes its size, SHA-1 and SHA-256.
///
/// # Errors
/// If the file cannot be read.
pub fn file_facts(path: &Path) -> io::Result<FileFacts> {
    let mut file = File::open(path)?;
    let mut sha1 = sha1::Sha1::new();
    let mut sha256 = sha2::Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha1.update(&buf[..n]);
        sha256.update(&buf[..n]);
        size += n as u64;
    }
    Ok(FileFacts {
        size,
        sha1: upper_hex(&sha1.finalize()),
        sha256: upper_hex(&sha256.finalize()),
    })
}

fn upper_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(bytes).expect("write");
        f
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).expect("gzip");
        enc.finish().expect("gzip")
    }

    fn tar_with_one_file() -> Vec<u8> {
        let mut header = vec![0u8; 512];
        header[..8].copy_from_slice(b"test.txt");
        header[TAR_MAGIC_OFFSET..TAR_MAGIC_OFFSET + 6].copy_from_slice(b"ustar\0");
        let mut tar = header;
        tar.extend_from_slice(&[b'x'; 512]);
        tar.extend_from_slice(&[0u8; 1024]);
        tar
    }

    fn mime(bytes: &[u8]) -> &'static str {
        identify(file_with(bytes).path())
            .expect("identify")
            .mime_type()
    }

    #[test]
    fn text_is_plain_and_an_empty_file_is_text_too() {
        assert_eq!(mime(b"Hello, Kerbals!\n"), "text/plain");
        assert_eq!(mime(b""), "text/plain");
        // CKAN never looks at the last byte read.
        assert_eq!(mime(b"abc\0"), "text/plain");
        assert_eq!(mime(b"a\0bc"), "application/octet-stream");
    }

    #[test]
    fn gzip_tar_and_tar_gz_are_told_apart() {
        assert_eq!(mime(&gzip(b"just some text")), "application/x-gzip");
        assert_eq!(mime(&tar_with_one_file()), "application/x-tar");
        assert_eq!(
            mime(&gzip(&tar_with_one_file())),
            "application/x-compressed-tar"
        );
        assert_eq!(mime(&[0u8; EMPTY_TAR_LEN]), "application/x-tar");
        assert_eq!(
            mime(&gzip(&[0u8; EMPTY_TAR_LEN])),
            "application/x-compressed-tar"
        );
        // One NUL too many is no longer an empty tar.
        assert_eq!(mime(&[0u8; EMPTY_TAR_LEN + 1]), "application/octet-stream");
        // A damaged gzip body is still gzip.
        assert_eq!(mime(&[0x1F, 0x8B, 0xFF, 0xFF]), "application/x-gzip");
    }

    #[test]
    fn zip_magics_and_random_bytes() {
        let zip = crate::testing::archive::ZipBuilder::new()
            .file("a/b.txt", "hello")
            .build();
        assert_eq!(mime(&zip), "application/zip");
        assert_eq!(mime(b"PK\x05\x06"), "application/zip");
        assert_eq!(mime(b"PK\x07\x08rest"), "application/zip");
        let random: Vec<u8> = (0u32..4096)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(mime(&random), "application/octet-stream");
    }

    #[test]
    fn size_and_hashes_are_upper_case_hex() {
        let f = file_with(b"abc");
        let facts = file_facts(f.path()).expect("facts");
        assert_eq!(facts.size, 3);
        assert_eq!(facts.sha1, "A9993E364706816ABA3E25717850C26C9CD0D89D");
        assert_eq!(
            facts.sha256,
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        );
    }
}
