//! Reading a regular file the way every reader in hardinit must: never blocking on a FIFO, never
//! becoming the controlling terminal, refusing what is not a regular file, and bounded. Plain std
//! (no libc call of its own), so that the differential test of the config reader can include it.

use std::io;

/// Opens `path` for reading (following a symlink: a ConfigMap's file is one) without blocking on
/// a FIFO or becoming the controlling terminal. Anything but a regular file is an `InvalidInput`
/// error whose text says what it is ("a directory", "a FIFO", "a device").
pub fn open(path: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(io::Error::new(io::ErrorKind::InvalidInput, what))
}

/// Everything `reader` gives, at most `limit` bytes: more is a `FileTooLarge` error, counted as
/// read rather than trusted from a size that may lie (/proc) or change.
pub fn read_bounded(reader: impl io::Read, limit: u64) -> io::Result<Vec<u8>> {
    use io::Read;
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, format!("larger than {} MiB", limit >> 20)));
    }
    Ok(bytes)
}
