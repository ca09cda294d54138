//! An MP4 file written by libavformat in process: one video stream, the index (`moov`) first
//! (`+faststart`) so that a browser plays a clip while it downloads. Both ways of making a clip
//! end here: the camera's own packets ([`super::copy`]) and our encoder's ([`super::encoder`]).

use std::path::{Path, PathBuf};

use ffmpeg_next as av;

use super::RecordError;

pub(super) struct Mp4 {
    output: av::format::context::Output,
    path: PathBuf,
    /// The stream's time base, as the muxer chose it in the header.
    time_base: av::Rational,
}

impl Mp4 {
    /// Creates `path` with one video stream described by `parameters`, whose packets are
    /// stamped in `time_base`.
    pub(super) fn create(
        path: &Path,
        parameters: av::codec::Parameters,
        time_base: av::Rational,
    ) -> Result<Mp4, RecordError> {
        let failed = |what: &str, e: av::Error| {
            RecordError::Encoder(format!("MP4 {}: {what}: {e}", path.display()))
        };
        let mut output = av::format::output_as(path, "mp4").map_err(|e| failed("open", e))?;
        {
            let mut stream = output
                .add_stream(av::encoder::find(av::codec::Id::None))
                .map_err(|e| failed("add the video stream", e))?;
            stream.set_parameters(parameters);
            stream.set_time_base(time_base);
        }
        let mut options = av::Dictionary::new();
        options.set("movflags", "+faststart");
        output
            .write_header_with(options)
            .map_err(|e| failed("write the header", e))?;
        let time_base = output
            .stream(0)
            .map(|s| s.time_base())
            .ok_or_else(|| failed("the video stream", av::Error::StreamNotFound))?;
        Ok(Mp4 {
            output,
            path: path.to_owned(),
            time_base,
        })
    }

    /// Writes `packet`, stamped in `from`.
    pub(super) fn write(
        &mut self,
        mut packet: av::Packet,
        from: av::Rational,
    ) -> Result<(), RecordError> {
        packet.rescale_ts(from, self.time_base);
        packet.set_stream(0);
        packet.set_position(-1);
        packet
            .write_interleaved(&mut self.output)
            .map_err(|e| RecordError::Encoder(format!("MP4 {}: {e}", self.path.display())))
    }

    /// Writes the index and closes the file; returns its path.
    pub(super) fn finish(mut self) -> Result<PathBuf, RecordError> {
        self.output.write_trailer().map_err(|e| {
            RecordError::Encoder(format!(
                "MP4 {}: writing the index: {e}",
                self.path.display()
            ))
        })?;
        Ok(self.path)
    }
}
