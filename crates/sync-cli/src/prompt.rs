//! Secrets typed at a terminal, read without showing them.

use std::io::{self, BufRead as _, Write as _};

use secrecy::SecretString;

/// Prints `prompt` on stderr and reads one line from stdin, a terminal, with echo turned
/// off (and restored afterwards, also when reading fails). The line ending is dropped.
pub fn read_hidden_line(prompt: &str) -> io::Result<SecretString> {
    let mut stderr = io::stderr();
    stderr.write_all(prompt.as_bytes())?;
    stderr.flush()?;
    let line = {
        let _echo_off = EchoOff::new()?;
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line).map(|_| line)
    };
    // The Enter that ended the line was not shown either.
    stderr.write_all(b"\n")?;
    let mut line = line?;
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    Ok(SecretString::from(line))
}

/// Echo turned off on stdin's terminal until dropped.
#[cfg(unix)]
struct EchoOff {
    original: rustix::termios::Termios,
}

#[cfg(unix)]
impl EchoOff {
    fn new() -> io::Result<Self> {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        let original = tcgetattr(io::stdin())?;
        let mut hidden = original.clone();
        hidden.local_modes.remove(LocalModes::ECHO);
        tcsetattr(io::stdin(), OptionalActions::Flush, &hidden)?;
        Ok(Self { original })
    }
}

#[cfg(unix)]
impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.original,
        );
    }
}

/// No terminal control here yet: the line is echoed.
#[cfg(not(unix))]
struct EchoOff;

#[cfg(not(unix))]
impl EchoOff {
    fn new() -> io::Result<Self> {
        Ok(Self)
    }
}
