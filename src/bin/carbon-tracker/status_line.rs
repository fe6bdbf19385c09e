//! The live status line of `monitor` on a terminal.
//!
//! It sits on the terminal's last row, below a scroll region that holds everything else (as
//! apt's progress line does), so the command's own output scrolls above it and never mixes with
//! it. The region is reset when the line is finished. A terminal whose size is unknown gets the
//! line rewritten in place with `\r` instead.

use std::io::Write;

pub struct StatusLine {
    /// (rows, cols) of the terminal while the bottom row is ours.
    bottom: Option<(u16, u16)>,
    drawn: bool,
}

fn size() -> Option<(u16, u16)> {
    // SAFETY: TIOCGWINSZ fills a winsize.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_row >= 3 && ws.ws_col >= 20).then_some((ws.ws_row, ws.ws_col))
}

fn out(s: &str) {
    let mut err = std::io::stderr();
    let _ = err.write_all(s.as_bytes());
    let _ = err.flush();
}

impl StatusLine {
    pub fn new() -> StatusLine {
        StatusLine { bottom: None, drawn: false }
    }

    /// Reserves the last row: a newline (so the row the cursor is on is not the one taken),
    /// the scroll region above the last row, the cursor back where it was.
    fn reserve(rows: u16) {
        out(&format!("\n\x1b7\x1b[1;{}r\x1b8\x1b[1A", rows - 1));
    }

    fn release(rows: u16) {
        out(&format!("\x1b7\x1b[r\x1b[{rows};1H\x1b[2K\x1b8"));
    }

    pub fn draw(&mut self, text: &str) {
        let now = size();
        if self.drawn && now != self.bottom {
            // Resized (or the size went away): give the old row back and start again.
            if let Some((rows, _)) = self.bottom {
                Self::release(rows);
            }
            self.drawn = false;
        }
        if !self.drawn {
            if let Some((rows, _)) = now {
                Self::reserve(rows);
            }
            self.bottom = now;
            self.drawn = true;
        }
        match self.bottom {
            Some((rows, cols)) => {
                // Never wider than the terminal: a wrap on the last row would scroll the screen.
                let text: String = text.chars().take(cols as usize - 1).collect();
                out(&format!("\x1b7\x1b[{rows};1H\x1b[2K\x1b[7m {text} \x1b[0m\x1b8"));
            }
            None => out(&format!("\r\x1b[2K{text}\r")),
        }
    }

    /// Prints a message of our own (above the status line, or on a line of its own).
    pub fn message(&self, text: &str) {
        if self.bottom.is_some() || !self.drawn {
            out(&format!("{text}\n"));
        } else {
            out(&format!("\r\x1b[2K{text}\n"));
        }
    }

    /// Clears the line and gives the terminal its full height back.
    pub fn finish(&mut self) {
        if !self.drawn {
            return;
        }
        match self.bottom {
            Some((rows, _)) => Self::release(rows),
            None => out("\r\x1b[2K"),
        }
        self.drawn = false;
    }
}
