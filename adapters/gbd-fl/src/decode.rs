//! windows-1251 to UTF-8 as a stream, for the XML export (quick-xml reads
//! UTF-8 only). The encoding is taken from the XML declaration.

use std::io::{self, BufRead, Read};

use encoding_rs::{Decoder, WINDOWS_1251};

use crate::FatalError;

/// The encoding an XML document declares in its first bytes: `None` for
/// UTF-8 (or none declared), `Some` for windows-1251, an error for others.
pub(crate) fn declared_encoding(
    head: &[u8],
) -> Result<Option<&'static encoding_rs::Encoding>, FatalError> {
    let head = &head[..head.len().min(256)];
    if !head.starts_with(b"<?xml") {
        return Ok(None);
    }
    let end = head
        .windows(2)
        .position(|w| w == b"?>")
        .unwrap_or(head.len());
    let decl = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let Some(at) = decl.find("encoding") else {
        return Ok(None);
    };
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .trim_start_matches('=');
    let rest = rest.trim_start();
    let name: String = rest
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| !matches!(c, '"' | '\''))
        .collect();
    match name.as_str() {
        "utf-8" | "utf8" => Ok(None),
        "windows-1251" | "cp1251" => Ok(Some(WINDOWS_1251)),
        _ => Err(FatalError {
            line: 1,
            problem: "encoding other than UTF-8 or windows-1251".into(),
        }),
    }
}

/// Reads `inner` through a decoder, giving UTF-8.
pub(crate) struct Decoded<R> {
    inner: R,
    decoder: Decoder,
    out: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R: BufRead> Decoded<R> {
    pub(crate) fn new(inner: R, encoding: &'static encoding_rs::Encoding) -> Decoded<R> {
        Decoded {
            inner,
            decoder: encoding.new_decoder_without_bom_handling(),
            out: Vec::new(),
            at: 0,
            done: false,
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.at = 0;
        while self.out.is_empty() && !self.done {
            let input = self.inner.fill_buf()?;
            let last = input.is_empty();
            let mut buffer = vec![0u8; input.len() * 3 + 16];
            let (_, read, written, _) = self.decoder.decode_to_utf8(input, &mut buffer, last);
            buffer.truncate(written);
            self.out = buffer;
            self.inner.consume(read);
            self.done = last;
        }
        Ok(())
    }
}

impl<R: BufRead> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at >= self.out.len() {
            self.refill()?;
        }
        let n = (self.out.len() - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
