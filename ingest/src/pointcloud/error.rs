//! Turning `las` errors into messages that name the file and say what to do. The crate's own words stay
//! at the end of each message, since they carry the detail (which field, which byte).

use std::path::Path;

use crate::Error;

/// A `las` error while opening or reading `path`.
pub fn las_error(path: &Path, e: las::Error) -> Error {
    let p = path.display();
    match e {
        las::Error::InvalidFileSignature(sig) => Error::BadInput(format!(
            "{p} is not a LAS/LAZ file: it starts with {:?}, not 'LASF'; check the file (a LAS file \
             begins with the four bytes LASF)",
            String::from_utf8_lossy(&sig)
        )),
        las::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::BadInput(format!(
                "{p} ends early ({io}): the file is truncated or empty; download or copy it again"
            ))
        }
        las::Error::Io(io) => Error::io(path, io),
        las::Error::LasZipError(z) => Error::BadInput(format!(
            "{p}: the LAZ point data cannot be decompressed ({z}); the file is truncated or damaged, \
             copy it again or check it with `lasinfo`"
        )),
        las::Error::LasZipVlrNotFound => Error::BadInput(format!(
            "{p}: the header says the points are LAZ-compressed but the file has no laszip record; \
             the file is damaged"
        )),
        other => Error::BadInput(format!(
            "{p} is not a valid LAS/LAZ file: {other}; check it with `lasinfo` or `pdal info`"
        )),
    }
}
