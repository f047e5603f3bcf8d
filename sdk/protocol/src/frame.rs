//! Binary frames: terminal and log bytes, never sent as text.
//!
//! ```text
//! byte 0     frame kind: 0x01 = DATA
//! bytes 1..5 channel id, u32 big-endian
//! byte 5     stream: 0 stdin, 1 stdout, 2 stderr
//! bytes 6..  payload
//! ```

/// Frame kind byte of a data frame.
pub const KIND_DATA: u8 = 0x01;
/// Header length.
pub const HEADER_LEN: usize = 6;
/// Largest payload the server puts in one frame.
pub const MAX_PAYLOAD: usize = 32 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
}

/// A decoded binary frame borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFrame<'a> {
    pub ch: u32,
    pub stream: Stream,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("binary frame shorter than its {HEADER_LEN}-byte header")]
    Short,
    #[error("unknown binary frame kind {0:#04x}")]
    Kind(u8),
    #[error("unknown stream {0}")]
    Stream(u8),
}

impl<'a> DataFrame<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, FrameError> {
        if bytes.len() < HEADER_LEN {
            return Err(FrameError::Short);
        }
        if bytes[0] != KIND_DATA {
            return Err(FrameError::Kind(bytes[0]));
        }
        let ch = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        let stream = match bytes[5] {
            0 => Stream::Stdin,
            1 => Stream::Stdout,
            2 => Stream::Stderr,
            s => return Err(FrameError::Stream(s)),
        };
        Ok(Self {
            ch,
            stream,
            payload: &bytes[HEADER_LEN..],
        })
    }

    /// Header + payload in one buffer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        out.push(KIND_DATA);
        out.extend_from_slice(&self.ch.to_be_bytes());
        out.push(self.stream as u8);
        out.extend_from_slice(self.payload);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_matches_the_spec() {
        let f = DataFrame {
            ch: 0x0102_0304,
            stream: Stream::Stderr,
            payload: b"hi",
        };
        assert_eq!(f.encode(), [0x01, 1, 2, 3, 4, 2, b'h', b'i']);
        assert_eq!(
            DataFrame::decode(&[0x01, 0, 0, 0, 7, 1]).unwrap().payload,
            b""
        );
        assert_eq!(DataFrame::decode(&[0x01, 0, 0]), Err(FrameError::Short));
        assert_eq!(
            DataFrame::decode(&[0x02, 0, 0, 0, 1, 1]),
            Err(FrameError::Kind(2))
        );
        assert_eq!(
            DataFrame::decode(&[0x01, 0, 0, 0, 1, 9]),
            Err(FrameError::Stream(9))
        );
    }

    proptest! {
        #[test]
        fn frames_round_trip(ch in any::<u32>(), s in 0u8..3, payload in prop::collection::vec(any::<u8>(), 0..256)) {
            let stream = [Stream::Stdin, Stream::Stdout, Stream::Stderr][s as usize];
            let bytes = DataFrame { ch, stream, payload: &payload }.encode();
            prop_assert_eq!(DataFrame::decode(&bytes), Ok(DataFrame { ch, stream, payload: &payload }));
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..32)) {
            let _ = DataFrame::decode(&bytes);
        }
    }
}
