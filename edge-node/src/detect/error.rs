//! The detector's errors: a bad setting, a bad mask file, or a frame of the wrong size.
//!
//! Not a place for runtime verdicts: "no motion" is a [`super::FrameVerdict`], never an error.

/// Everything that can go wrong while configuring or feeding the detector.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// A setting is out of range or malformed; `setting` is its name in the config file.
    #[error("setting `{setting}`: {reason}")]
    Setting {
        setting: &'static str,
        reason: String,
    },
    /// The mask file is not a PGM image we can read.
    #[error("mask: {0}")]
    Pgm(String),
    /// The mask and the camera frames have different sizes.
    #[error("mask is {mask_width}x{mask_height} pixels but frames are {width}x{height}")]
    MaskSize {
        mask_width: u32,
        mask_height: u32,
        width: u32,
        height: u32,
    },
    /// A frame's size does not match the detector's, or its buffer does not match its size.
    #[error("frame: {0}")]
    Frame(String),
}

impl DetectError {
    pub(crate) fn setting(setting: &'static str, reason: impl Into<String>) -> Self {
        DetectError::Setting {
            setting,
            reason: reason.into(),
        }
    }
}
