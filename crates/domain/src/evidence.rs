//! Files attached to records as evidence: which kinds are taken, what they are called, and
//! what is removed from a picture before it is kept. The bytes never enter an event; an
//! event carries an [`Attachment`], the file's description.
//!
//! A file's kind is read from its first bytes, never from its name or what the browser says.
//! Photographs lose every metadata segment (EXIF with its GPS position and camera, XMP,
//! comments); only the orientation survives, rewritten on its own, so a phone's portrait
//! photo still stands the right way up.

use serde::{Deserialize, Serialize};

use crate::ids::{AttachmentId, StaffId};

/// The most files one record holds at once.
pub const MOST_PER_RECORD: usize = 20;
/// The longest file name kept, in characters.
pub const LONGEST_NAME: usize = 120;

/// The kinds of file taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaType {
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "application/pdf")]
    Pdf,
    #[serde(rename = "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]
    Docx,
    #[serde(rename = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]
    Xlsx,
    #[serde(rename = "application/vnd.openxmlformats-officedocument.presentationml.presentation")]
    Pptx,
}

impl MediaType {
    pub const ALL: [Self; 6] = [
        Self::Jpeg,
        Self::Png,
        Self::Pdf,
        Self::Docx,
        Self::Xlsx,
        Self::Pptx,
    ];

    /// Its MIME type.
    pub const fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
            Self::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
        }
    }

    pub fn from_mime(mime: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.mime() == mime)
    }

    /// The file name extension that goes with it.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Pdf => "pdf",
            Self::Docx => "docx",
            Self::Xlsx => "xlsx",
            Self::Pptx => "pptx",
        }
    }

    /// A picture or PDF opens in the browser; anything else is downloaded.
    pub const fn opens_inline(self) -> bool {
        matches!(self, Self::Jpeg | Self::Png | Self::Pdf)
    }

    /// What people call it.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Jpeg | Self::Png => "photo",
            Self::Pdf => "PDF",
            Self::Docx => "Word document",
            Self::Xlsx => "Excel workbook",
            Self::Pptx => "PowerPoint presentation",
        }
    }

    /// The kind of file `bytes` is, by its content.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Some(Self::Jpeg);
        }
        if bytes.starts_with(PNG_SIGNATURE) {
            return Some(Self::Png);
        }
        if bytes.starts_with(b"%PDF-") {
            return Some(Self::Pdf);
        }
        // Office Open XML: a zip whose parts name the application.
        if bytes.starts_with(b"PK\x03\x04") && contains(bytes, b"[Content_Types].xml") {
            if contains(bytes, b"word/") {
                return Some(Self::Docx);
            }
            if contains(bytes, b"xl/") {
                return Some(Self::Xlsx);
            }
            if contains(bytes, b"ppt/") {
                return Some(Self::Pptx);
            }
        }
        None
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A file name as kept: its last path part, without control characters, at most
/// [`LONGEST_NAME`] characters, ending in the extension of what the file really is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileName(String);

impl FileName {
    pub fn new(given: &str, kind: MediaType) -> Self {
        let last = given.rsplit(['/', '\\']).next().unwrap_or_default();
        let clean: String = last
            .chars()
            .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | '|' | ':' | '*' | '?'))
            .collect();
        let clean = clean.trim().trim_start_matches('.');
        let stem = match clean.rsplit_once('.') {
            Some((stem, _)) if !stem.trim().is_empty() => stem.trim(),
            _ => clean,
        };
        let stem = if stem.is_empty() { "evidence" } else { stem };
        let room = LONGEST_NAME - kind.extension().len() - 1;
        let stem: String = stem.chars().take(room).collect();
        Self(format!("{}.{}", stem.trim_end(), kind.extension()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for FileName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file attached to a record, as events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub attachment_id: AttachmentId,
    pub file_name: FileName,
    pub media_type: MediaType,
    pub size_bytes: u64,
    /// The SHA-256 of the bytes kept, in hex.
    pub sha256: String,
    pub by: StaffId,
}

/// The files on a record, as its state keeps them, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attachments(pub Vec<Attachment>);

/// Why a file cannot be attached to, or removed from, a record that takes files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    #[error("a record holds at most {MOST_PER_RECORD} files: remove one first")]
    Full,
    #[error("no such file on this record")]
    NoSuchFile,
    #[error("only the person who attached a file removes it")]
    NotYours,
}

impl AttachError {
    pub const fn code(self) -> &'static str {
        match self {
            Self::Full => "evidence.too_many",
            Self::NoSuchFile => "evidence.not_found",
            Self::NotYours => "evidence.not_yours",
        }
    }

    pub const fn kind(self) -> crate::RejectionKind {
        match self {
            Self::Full => crate::RejectionKind::FailedPrecondition,
            Self::NoSuchFile => crate::RejectionKind::NotFound,
            Self::NotYours => crate::RejectionKind::PermissionDenied,
        }
    }
}

impl Attachments {
    /// May one more file join these?
    pub fn can_attach(&self) -> Result<(), AttachError> {
        if self.0.len() >= MOST_PER_RECORD {
            return Err(AttachError::Full);
        }
        Ok(())
    }

    /// May `actor` remove file `id`? Its name, if so.
    pub fn can_remove(&self, actor: StaffId, id: AttachmentId) -> Result<FileName, AttachError> {
        let file = self.get(id).ok_or(AttachError::NoSuchFile)?;
        if file.by != actor {
            return Err(AttachError::NotYours);
        }
        Ok(file.file_name.clone())
    }

    pub fn get(&self, id: AttachmentId) -> Option<&Attachment> {
        self.0.iter().find(|file| file.attachment_id == id)
    }

    pub fn attached(&mut self, attachment: &Attachment) {
        if self.get(attachment.attachment_id).is_none() {
            self.0.push(attachment.clone());
        }
    }

    pub fn removed(&mut self, id: AttachmentId) {
        self.0.retain(|file| file.attachment_id != id);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Attachment> {
        self.0.iter()
    }
}

/// Why a file is not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than the limit of {limit_mb} MB")]
    TooLarge { limit_mb: u64 },
    #[error(
        "this kind of file is not taken: attach a photo (JPEG or PNG), a PDF, or a Word, Excel or PowerPoint file"
    )]
    KindNotTaken,
    #[error("the {kind} is damaged and cannot be read")]
    Damaged { kind: &'static str },
}

impl FileError {
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Empty => "evidence.empty",
            Self::TooLarge { .. } => "evidence.too_large",
            Self::KindNotTaken => "evidence.kind_not_taken",
            Self::Damaged { .. } => "evidence.damaged",
        }
    }
}

/// A file checked and made ready to keep: its kind, and its bytes with a picture's metadata
/// removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub media_type: MediaType,
    pub bytes: Vec<u8>,
}

/// Checks a file against the kinds taken and the size limit, and strips a picture's
/// metadata.
pub fn check(bytes: &[u8], limit: u64) -> Result<Checked, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            limit_mb: limit.div_ceil(1_000_000),
        });
    }
    let media_type = MediaType::sniff(bytes).ok_or(FileError::KindNotTaken)?;
    let damaged = || FileError::Damaged {
        kind: media_type.label(),
    };
    let bytes = match media_type {
        MediaType::Jpeg => strip_jpeg(bytes).ok_or_else(damaged)?,
        MediaType::Png => strip_png(bytes).ok_or_else(damaged)?,
        _ => bytes.to_vec(),
    };
    Ok(Checked { media_type, bytes })
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A JPEG without its metadata segments. Kept: JFIF (APP0), the colour profile (APP2
/// `ICC_PROFILE`), Adobe's colour transform (APP14) and everything the picture itself needs;
/// the orientation comes back as an EXIF segment of its own. `None` if it is not well formed.
fn strip_jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..2]);
    let mut orientation = None;
    let mut at = 2;
    loop {
        if bytes.get(at) != Some(&0xFF) {
            return None;
        }
        // Fill bytes may pad a marker.
        while bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let marker = *bytes.get(at + 1)?;
        if marker == 0xD9 {
            out.extend_from_slice(&[0xFF, 0xD9]);
            break;
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            out.extend_from_slice(&[0xFF, marker]);
            at += 2;
            continue;
        }
        let length = usize::from(u16::from_be_bytes([
            *bytes.get(at + 2)?,
            *bytes.get(at + 3)?,
        ]));
        if length < 2 {
            return None;
        }
        let end = at + 2 + length;
        let segment = bytes.get(at..end)?;
        let body = &segment[4..];
        if marker == 0xDA {
            // Start of scan: the picture itself follows, to the end.
            out.extend_from_slice(&bytes[at..]);
            break;
        }
        let keep = match marker {
            0xE0 | 0xEE => true,
            0xE2 => body.starts_with(b"ICC_PROFILE\0"),
            0xE1 => {
                if let Some(tiff) = body.strip_prefix(b"Exif\0\0") {
                    orientation = orientation.or_else(|| exif_orientation(tiff));
                }
                false
            }
            0xE3..=0xEF | 0xFE => false,
            _ => true,
        };
        if keep {
            out.extend_from_slice(segment);
        }
        at = end;
    }
    if let Some(value) = orientation.filter(|value| (2..=8).contains(value)) {
        let mut exif = Vec::with_capacity(36);
        exif.extend_from_slice(&[0xFF, 0xE1, 0x00, 34]);
        exif.extend_from_slice(b"Exif\0\0MM\0\x2A\0\0\0\x08\0\x01");
        exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
        exif.extend_from_slice(&value.to_be_bytes());
        exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let after_app0 = if out.get(2..4) == Some(&[0xFF, 0xE0]) {
            4 + usize::from(u16::from_be_bytes([out[4], out[5]]))
        } else {
            2
        };
        out.splice(after_app0..after_app0, exif);
    }
    Some(out)
}

/// The orientation (EXIF tag 0x0112) in a TIFF block, if it names one.
fn exif_orientation(tiff: &[u8]) -> Option<u16> {
    let big = match tiff.get(..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let u16_at = |at: usize| {
        let b = tiff.get(at..at + 2)?;
        Some(if big {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    };
    let u32_at = |at: usize| {
        let b = tiff.get(at..at + 4)?;
        Some(if big {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let entries = usize::from(u16_at(ifd)?);
    (0..entries).find_map(|n| {
        let entry = ifd + 2 + n * 12;
        (u16_at(entry)? == 0x0112 && u16_at(entry + 2)? == 3).then(|| u16_at(entry + 8))?
    })
}

/// A PNG without its text, time and EXIF chunks. `None` if it is not well formed.
fn strip_png(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(PNG_SIGNATURE);
    let mut at = PNG_SIGNATURE.len();
    loop {
        let length =
            usize::try_from(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?)).ok()?;
        let kind = bytes.get(at + 4..at + 8)?;
        let end = at.checked_add(12)?.checked_add(length)?;
        let chunk = bytes.get(at..end)?;
        if !matches!(kind, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME") {
            out.extend_from_slice(chunk);
        }
        at = end;
        if kind == b"IEND" {
            return Some(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::phone_photo;

    #[test]
    fn a_photo_loses_its_metadata_but_keeps_its_orientation() {
        let photo = phone_photo(6);
        let checked = check(&photo, 1_000_000).unwrap();
        assert_eq!(checked.media_type, MediaType::Jpeg);
        let kept = &checked.bytes;
        for gone in [&b"GPS"[..], b"Cam", b"Acacia", b"xmpmeta"] {
            assert!(!contains(kept, gone), "{}", String::from_utf8_lossy(gone));
        }
        assert!(contains(kept, b"JFIF"));
        assert!(kept.ends_with(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]));
        let exif = kept.windows(6).position(|w| w == b"Exif\0\0").unwrap();
        assert_eq!(exif_orientation(&kept[exif + 6..]), Some(6));
        // Checking again changes nothing more.
        assert_eq!(check(kept, 1_000_000).unwrap().bytes, *kept);
        // Upright: no EXIF at all.
        let upright = check(&phone_photo(1), 1_000_000).unwrap().bytes;
        assert!(!contains(&upright, b"Exif"));
    }

    #[test]
    fn a_png_loses_its_text_and_time() {
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut c = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
            c.extend_from_slice(kind);
            c.extend_from_slice(data);
            c.extend_from_slice(&[0, 0, 0, 0]);
            c
        };
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend(chunk(b"IHDR", &[0; 13]));
        png.extend(chunk(b"tEXt", b"Author\0Ms Smith"));
        png.extend(chunk(b"eXIf", b"MM\0\x2Agps"));
        png.extend(chunk(b"IDAT", &[7; 10]));
        png.extend(chunk(b"IEND", &[]));
        let kept = check(&png, 1_000_000).unwrap().bytes;
        assert!(!contains(&kept, b"Smith") && !contains(&kept, b"gps"));
        assert!(contains(&kept, b"IHDR") && contains(&kept, &[7; 10]));
        assert!(kept.len() < png.len());
    }

    #[test]
    fn files_are_known_by_their_content_not_their_name() {
        assert_eq!(MediaType::sniff(b"%PDF-1.7\n"), Some(MediaType::Pdf));
        let docx = b"PK\x03\x04....[Content_Types].xml....word/document.xml";
        assert_eq!(MediaType::sniff(docx), Some(MediaType::Docx));
        assert_eq!(
            check(b"MZ\x90\0 a program", 100),
            Err(FileError::KindNotTaken)
        );
        assert_eq!(check(b"<html><script>", 100), Err(FileError::KindNotTaken));
        assert_eq!(
            check(b"PK\x03\x04 any zip", 100),
            Err(FileError::KindNotTaken)
        );
        assert_eq!(check(b"", 100), Err(FileError::Empty));
        assert_eq!(
            check(&[b'%'; 2_000_001], 2_000_000),
            Err(FileError::TooLarge { limit_mb: 2 })
        );
        // A truncated photo is refused, not kept half-read.
        let photo = phone_photo(1);
        assert_eq!(
            check(&photo[..30], 1_000_000),
            Err(FileError::Damaged { kind: "photo" })
        );
    }

    #[test]
    fn names_keep_their_last_part_and_get_the_true_extension() {
        let name = |given| FileName::new(given, MediaType::Pdf).to_string();
        assert_eq!(name("Book look.pdf"), "Book look.pdf");
        assert_eq!(name("C:\\Users\\me\\minutes.exe"), "minutes.pdf");
        assert_eq!(name("../../etc/passwd"), "passwd.pdf");
        assert_eq!(name("  \u{7}\"<>.hidden"), "hidden.pdf");
        assert_eq!(name(""), "evidence.pdf");
        assert_eq!(name(&"x".repeat(500)).chars().count(), LONGEST_NAME);
    }
}
