//! Snapshots: one 4:2:0 frame as a JPEG, in process (no encoder to start, so the alert's image
//! is ready within milliseconds of the trigger frame).

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

use crate::capture::{Frame, StreamInfo};

use super::RecordError;

/// Encodes `frame` (luma and 4:2:0 chroma) as a JPEG of the given quality.
pub(super) fn encode(
    info: &StreamInfo,
    frame: &Frame,
    quality: u8,
) -> Result<Vec<u8>, RecordError> {
    let (w, h) = (info.width as usize, info.height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    if frame.luma.len() != w * h || frame.chroma.len() != 2 * cw * ch {
        return Err(RecordError::Snapshot(format!(
            "frame has {} luma and {} chroma bytes, {w}x{h} 4:2:0 needs {} and {}",
            frame.luma.len(),
            frame.chroma.len(),
            w * h,
            2 * cw * ch
        )));
    }
    let width = u16::try_from(w)
        .map_err(|_| RecordError::Snapshot(format!("width {w} is too large for JPEG")))?;
    let height = u16::try_from(h)
        .map_err(|_| RecordError::Snapshot(format!("height {h} is too large for JPEG")))?;
    let (u, v) = frame.chroma.split_at(cw * ch);
    // The encoder takes interleaved YCbCr and subsamples it again to 4:2:0 itself.
    let mut ycbcr = Vec::with_capacity(3 * w * h);
    for (y, row) in frame.luma.chunks_exact(w).enumerate() {
        let chroma_row = (y / 2) * cw;
        for (x, &luma) in row.iter().enumerate() {
            let c = chroma_row + x / 2;
            ycbcr.extend_from_slice(&[luma, u[c], v[c]]);
        }
    }
    let mut jpeg = Vec::new();
    let mut encoder = Encoder::new(&mut jpeg, quality);
    encoder.set_sampling_factor(SamplingFactor::F_2_2);
    encoder
        .encode(&ycbcr, width, height, ColorType::Ycbcr)
        .map_err(|e| RecordError::Snapshot(e.to_string()))?;
    Ok(jpeg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Chroma;

    #[test]
    fn a_frame_becomes_a_jpeg() -> Result<(), RecordError> {
        let info = StreamInfo {
            width: 6,
            height: 4,
            fps: 15.0,
            chroma: Chroma::C420,
        };
        let frame = Frame {
            luma: vec![200; 24],
            chroma: vec![128; 12],
            ..Frame::default()
        };
        let jpeg = encode(&info, &frame, 85)?;
        assert_eq!(&jpeg[..2], [0xff, 0xd8], "JPEG start of image");
        assert_eq!(&jpeg[jpeg.len() - 2..], [0xff, 0xd9], "JPEG end of image");
        let short = Frame {
            luma: vec![0; 10],
            ..Frame::default()
        };
        assert!(encode(&info, &short, 85).is_err());
        Ok(())
    }
}
