//! Zip archives built in a test: files with contents in nested folders, directory entries,
//! `.version`, `.cfg`, `.ckan` and `swinfo.json` files, and the hostile kinds a download may
//! be (symbolic links, unsafe or invalid names, forged sizes, bombs).
//!
//! The writer is written out here rather than taken from the `zip` crate, because the crate
//! refuses or repairs exactly the entries these tests need (raw non-UTF-8 names, sizes that lie,
//! duplicate names).
//!
//! ```
//! use netkan_inflator::testing::archive::ZipBuilder;
//! let zip = ZipBuilder::new()
//!     .dir("MyMod/")
//!     .file("MyMod/MyMod.version", r#"{"VERSION": "1.2.3"}"#)
//!     .file("MyMod/Plugins/MyMod.dll", vec![0u8; 100])
//!     .build();
//! assert!(zip.starts_with(b"PK\x03\x04"));
//! ```

use std::io::Write;
use std::path::Path;

/// How one entry's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Stored,
    Deflated,
}

#[derive(Debug, Clone)]
struct Spec {
    name: Vec<u8>,
    data: Vec<u8>,
    method: Method,
    unix_mode: Option<u32>,
    utf8_flag: bool,
    declared_size: Option<u64>,
    dos_dir: bool,
}

/// Builds a zip in memory, entry by entry, in the order given.
#[derive(Debug, Clone, Default)]
pub struct ZipBuilder {
    entries: Vec<Spec>,
}

impl ZipBuilder {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, spec: Spec) -> Self {
        self.entries.push(spec);
        self
    }

    fn spec(name: Vec<u8>, data: Vec<u8>) -> Spec {
        Spec {
            name,
            data,
            method: Method::Deflated,
            unix_mode: None,
            utf8_flag: false,
            declared_size: None,
            dos_dir: false,
        }
    }

    /// A file (deflated) with these contents.
    pub fn file(self, name: &str, contents: impl AsRef<[u8]>) -> Self {
        let spec = Self::spec(name.as_bytes().to_vec(), contents.as_ref().to_vec());
        self.push(spec)
    }

    /// A file stored without compression.
    pub fn stored(self, name: &str, contents: impl AsRef<[u8]>) -> Self {
        let mut spec = Self::spec(name.as_bytes().to_vec(), contents.as_ref().to_vec());
        spec.method = Method::Stored;
        self.push(spec)
    }

    /// A directory entry (give the trailing `/`, as zip tools write it).
    pub fn dir(self, name: &str) -> Self {
        let mut spec = Self::spec(name.as_bytes().to_vec(), Vec::new());
        spec.method = Method::Stored;
        spec.unix_mode = Some(0o040_755);
        self.push(spec)
    }

    /// A directory marked only by its MS-DOS attribute (no trailing `/`).
    pub fn dos_dir(self, name: &str) -> Self {
        let mut spec = Self::spec(name.as_bytes().to_vec(), Vec::new());
        spec.method = Method::Stored;
        spec.dos_dir = true;
        self.push(spec)
    }

    /// A Unix symbolic link to `target`.
    pub fn symlink(self, name: &str, target: &str) -> Self {
        let mut spec = Self::spec(name.as_bytes().to_vec(), target.as_bytes().to_vec());
        spec.method = Method::Stored;
        spec.unix_mode = Some(0o120_777);
        self.push(spec)
    }

    /// A file whose name is these raw bytes; `utf8_flag` sets general-purpose bit 11.
    pub fn raw_name(self, name: &[u8], utf8_flag: bool, contents: impl AsRef<[u8]>) -> Self {
        let mut spec = Self::spec(name.to_vec(), contents.as_ref().to_vec());
        spec.utf8_flag = utf8_flag;
        self.push(spec)
    }

    /// A file whose headers declare `declared` uncompressed bytes whatever it holds.
    pub fn lying_size(self, name: &str, contents: impl AsRef<[u8]>, declared: u64) -> Self {
        let mut spec = Self::spec(name.as_bytes().to_vec(), contents.as_ref().to_vec());
        spec.declared_size = Some(declared);
        self.push(spec)
    }

    /// `bytes` zero bytes, deflated: a high-ratio entry (about 1000:1).
    pub fn zeros(self, name: &str, bytes: usize) -> Self {
        self.file(name, vec![0u8; bytes])
    }

    /// The archive's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for spec in &self.entries {
            let offset = u32::try_from(out.len()).expect("test archives stay under 4 GiB");
            let mut crc = flate2::Crc::new();
            crc.update(&spec.data);
            let body = match spec.method {
                Method::Stored => spec.data.clone(),
                Method::Deflated => {
                    let mut enc = flate2::write::DeflateEncoder::new(
                        Vec::new(),
                        flate2::Compression::default(),
                    );
                    enc.write_all(&spec.data).expect("deflate into memory");
                    enc.finish().expect("deflate into memory")
                }
            };
            let method: u16 = match spec.method {
                Method::Stored => 0,
                Method::Deflated => 8,
            };
            let flags: u16 = if spec.utf8_flag { 1 << 11 } else { 0 };
            let size = spec.declared_size.unwrap_or(spec.data.len() as u64);
            let size32 = u32::try_from(size).unwrap_or(u32::MAX);
            let comp32 = u32::try_from(body.len()).expect("test archives stay under 4 GiB");
            let name_len = u16::try_from(spec.name.len()).expect("names fit a zip header");
            // Local header.
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes()); // time
            out.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
            out.extend_from_slice(&crc.sum().to_le_bytes());
            out.extend_from_slice(&comp32.to_le_bytes());
            out.extend_from_slice(&size32.to_le_bytes());
            out.extend_from_slice(&name_len.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&spec.name);
            out.extend_from_slice(&body);
            // Central directory header.
            let (made_by, external): (u16, u32) = match (spec.unix_mode, spec.dos_dir) {
                (_, true) => (20, 0x10),
                (Some(mode), false) => ((3 << 8) | 20, mode << 16),
                (None, false) => ((3 << 8) | 20, 0o100_644 << 16),
            };
            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            central.extend_from_slice(&made_by.to_le_bytes());
            central.extend_from_slice(&20u16.to_le_bytes());
            central.extend_from_slice(&flags.to_le_bytes());
            central.extend_from_slice(&method.to_le_bytes());
            central.extend_from_slice(&0u16.to_le_bytes());
            central.extend_from_slice(&0x21u16.to_le_bytes());
            central.extend_from_slice(&crc.sum().to_le_bytes());
            central.extend_from_slice(&comp32.to_le_bytes());
            central.extend_from_slice(&size32.to_le_bytes());
            central.extend_from_slice(&name_len.to_le_bytes());
            central.extend_from_slice(&0u16.to_le_bytes()); // extra
            central.extend_from_slice(&0u16.to_le_bytes()); // comment
            central.extend_from_slice(&0u16.to_le_bytes()); // disk
            central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            central.extend_from_slice(&external.to_le_bytes());
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(&spec.name);
        }
        let count = u16::try_from(self.entries.len()).expect("test archives have < 65536 entries");
        let cd_offset = u32::try_from(out.len()).expect("test archives stay under 4 GiB");
        let cd_size = u32::try_from(central.len()).expect("test archives stay under 4 GiB");
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&cd_size.to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    /// Writes the archive to `path`.
    ///
    /// # Panics
    /// If the file cannot be written (a test helper).
    pub fn write_to(&self, path: &Path) {
        std::fs::write(path, self.build()).expect("write the test archive");
    }

    /// Writes the archive to a fresh temporary file, removed when dropped.
    ///
    /// # Panics
    /// If the file cannot be written (a test helper).
    pub fn temp_file(&self) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new()
            .suffix(".zip")
            .tempfile()
            .expect("create a temporary archive");
        f.write_all(&self.build()).expect("write the test archive");
        f
    }
}

/// A `.version` file (KSP-AVC) with a VERSION and an optional `KSP_VERSION`, as most mods
/// ship one.
pub fn avc_file(version: &str, ksp_version: Option<&str>) -> String {
    let ksp = ksp_version
        .map(|k| format!(",\n    \"KSP_VERSION\": \"{k}\""))
        .unwrap_or_default();
    format!("{{\n    \"NAME\": \"Test\",\n    \"VERSION\": \"{version}\"{ksp}\n}}\n")
}

/// A `Localization` block for `.cfg` files, one locale block per name.
pub fn localization_cfg(locales: &[&str]) -> String {
    let mut s = String::from("Localization\n{\n");
    for l in locales {
        s.push_str(&format!("    {l}\n    {{\n        key = value\n    }}\n"));
    }
    s.push_str("}\n");
    s
}
