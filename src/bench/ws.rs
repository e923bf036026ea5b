//! A minimal websocket client for the agent feed: the RFC 6455 upgrade over a plain TCP
//! socket, then unmasked server frames parsed in place from one reusable buffer. It never
//! sends a frame, so the client side stays cheap when a thousand sockets each take thousands
//! of frames a second.

use std::net::SocketAddr;
use std::ops::Range;

use anyhow::{Context, bail};
use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Text frame opcode.
pub const TEXT: u8 = 0x1;
/// Close frame opcode.
pub const CLOSE: u8 = 0x8;

/// One open websocket.
pub struct WsClient {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// Where a complete frame sits in `buf[start..]`: (opcode, header length, payload length).
pub fn parse_header(b: &[u8]) -> Option<(u8, usize, usize)> {
    if b.len() < 2 {
        return None;
    }
    let op = b[0] & 0x0f;
    let masked = b[1] & 0x80 != 0;
    let (hdr, len) = match b[1] & 0x7f {
        126 => {
            if b.len() < 4 {
                return None;
            }
            (4, u16::from_be_bytes([b[2], b[3]]) as usize)
        }
        127 => {
            if b.len() < 10 {
                return None;
            }
            let mut l = [0u8; 8];
            l.copy_from_slice(&b[2..10]);
            (10, u64::from_be_bytes(l) as usize)
        }
        n => (2, n as usize),
    };
    let hdr = hdr + if masked { 4 } else { 0 };
    Some((op, hdr, len))
}

impl WsClient {
    /// Open `ws://addr/api/ws` with a session cookie; `capacity` is the read buffer size.
    pub async fn connect(
        addr: SocketAddr,
        cookie: &str,
        capacity: usize,
    ) -> anyhow::Result<WsClient> {
        let mut stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
        let req = format!(
            "GET /api/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await?;
        let mut buf = vec![0u8; capacity.max(4096)];
        let mut end = 0;
        let head_end = loop {
            if end == buf.len() {
                bail!("websocket handshake answer too long");
            }
            let n = stream.read(&mut buf[end..]).await?;
            if n == 0 {
                bail!("connection closed during the websocket handshake");
            }
            end += n;
            if let Some(p) = buf[..end].windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]);
        if !head.starts_with("HTTP/1.1 101") {
            bail!(
                "websocket upgrade refused: {}",
                head.lines().next().unwrap_or_default()
            );
        }
        Ok(WsClient {
            stream,
            buf,
            start: head_end,
            end,
        })
    }

    /// The next frame: its opcode and where its payload is (read it with [`Self::payload`]
    /// before calling this again). `None` when the server closed the connection.
    pub async fn next(&mut self) -> anyhow::Result<Option<(u8, Range<usize>)>> {
        loop {
            if let Some((op, hdr, len)) = parse_header(&self.buf[self.start..self.end]) {
                let total = hdr + len;
                if self.end - self.start >= total {
                    let r = self.start + hdr..self.start + total;
                    self.start += total;
                    return Ok(Some((op, r)));
                }
                if total > self.buf.len() {
                    self.buf.resize(total.next_power_of_two(), 0);
                }
            }
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else if self.end == self.buf.len() || self.start > self.buf.len() / 2 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let n = self.stream.read(&mut self.buf[self.end..]).await?;
            if n == 0 {
                return Ok(None);
            }
            self.end += n;
        }
    }

    /// The bytes of a payload returned by [`Self::next`].
    pub fn payload(&self, r: Range<usize>) -> &[u8] {
        &self.buf[r]
    }

    /// Read frames until the first text frame, which must be `hello`.
    pub async fn hello(&mut self) -> anyhow::Result<()> {
        loop {
            match self.next().await? {
                None => bail!("socket closed before hello"),
                Some((TEXT, r)) => {
                    let p = self.payload(r);
                    if p.starts_with(br#"{"type":"hello""#) {
                        return Ok(());
                    }
                    bail!("first frame is not hello: {}", String::from_utf8_lossy(p));
                }
                Some(_) => {}
            }
        }
    }
}

/// The sequence number in a `[bench#<seq>#]` marker inside a `message.created` frame.
pub fn marker(frame: &[u8]) -> Option<u64> {
    if !frame.starts_with(br#"{"type":"message.created""#) {
        return None;
    }
    let s = std::str::from_utf8(frame).ok()?;
    let at = s.find("[bench#")? + "[bench#".len();
    let rest = &s[at..];
    let end = rest.find('#')?;
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_headers_of_every_length_form() {
        assert_eq!(parse_header(&[0x81, 5, b'h']), Some((TEXT, 2, 5)));
        assert_eq!(parse_header(&[0x81]), None);
        assert_eq!(parse_header(&[0x81, 126, 0x01]), None);
        assert_eq!(parse_header(&[0x81, 126, 0x01, 0x00]), Some((TEXT, 4, 256)));
        let mut long = vec![0x88, 127];
        long.extend_from_slice(&70_000u64.to_be_bytes());
        assert_eq!(parse_header(&long), Some((CLOSE, 10, 70_000)));
        assert_eq!(parse_header(&[0x81, 0x85]), Some((TEXT, 6, 5)));
    }

    #[test]
    fn markers_are_found_in_message_frames_only() {
        let f =
            br#"{"type":"message.created","seq":9,"data":{"message":{"text":"[bench#1234#] hi"}}}"#;
        assert_eq!(marker(f), Some(1234));
        let other = br#"{"type":"conversation.updated","data":{"text":"[bench#1#]"}}"#;
        assert_eq!(marker(other), None);
        assert_eq!(marker(br#"{"type":"message.created","data":{}}"#), None);
    }
}
