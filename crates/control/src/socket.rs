//! Binding the control socket for the daemon: one daemon per socket, mode 0600.
//!
//! A lock file next to the socket (`hitlessd.sock.lock`, held with `flock` for the daemon's
//! lifetime) decides who owns the socket, so two daemons started at once cannot both bind it,
//! and a socket left behind by a daemon that died is replaced safely.

use std::fs;
use std::fs::File;
use std::fs::OpenOptions;
use std::fs::TryLockError;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::path::PathBuf;

/// The daemon's bound control socket; the socket file is removed when it is dropped.
#[derive(Debug)]
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    /// Held (locked) as long as this value lives.
    _lock: File,
}

/// Why the control socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another hitlessd owns the socket.
    #[error("hitlessd is already running (control socket {} is in use)", path.display())]
    AlreadyRunning {
        /// The socket path.
        path: PathBuf,
    },
    /// The socket or its lock file could not be created.
    #[error("cannot create the control socket {}: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl ControlSocket {
    /// Takes ownership of the socket at `path`: locks `path.lock`, removes a stale socket,
    /// binds, and restricts the socket to its owner (mode 0600).
    ///
    /// # Errors
    ///
    /// [`BindError::AlreadyRunning`] when another process holds the lock; [`BindError::Io`]
    /// when the files cannot be created (missing directory, permissions).
    pub fn bind(path: &Path) -> Result<Self, BindError> {
        let io_error = |source| BindError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_error)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(BindError::AlreadyRunning {
                    path: path.to_path_buf(),
                });
            }
            Err(TryLockError::Error(error)) => return Err(io_error(error)),
        }
        // We own the lock, so whatever is at `path` is a leftover.
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error(error)),
        }
        let listener = UnixListener::bind(path).map_err(io_error)?;
        // The directory (/run/hitless, 0700) already keeps others out; this is the second lock.
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_error)?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The listening socket (use `try_clone` to hand it to an async runtime).
    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        // The lock file stays: removing it while others may have opened it would let two
        // processes hold "the" lock on different files.
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;

    use super::*;

    #[test]
    fn second_daemon_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hitlessd.sock");
        let first = ControlSocket::bind(&path).unwrap();
        let error = ControlSocket::bind(&path).unwrap_err();
        assert!(matches!(error, BindError::AlreadyRunning { .. }));
        assert_eq!(
            error.to_string(),
            format!(
                "hitlessd is already running (control socket {} is in use)",
                path.display()
            )
        );
        // The first one still works.
        UnixStream::connect(&path).unwrap();
        assert!(first.listener().accept().is_ok());
    }

    #[test]
    fn socket_is_private_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hitlessd.sock");
        let socket = ControlSocket::bind(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        drop(socket);
        assert!(!path.exists());
        // And it can be bound again.
        ControlSocket::bind(&path).unwrap();
    }

    #[test]
    fn stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hitlessd.sock");
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let socket = ControlSocket::bind(&path).unwrap();
        UnixStream::connect(socket.path()).unwrap();
    }

    #[test]
    fn missing_directory_is_an_io_error() {
        let error = ControlSocket::bind(Path::new("/nonexistent/dir/hitlessd.sock")).unwrap_err();
        assert!(matches!(error, BindError::Io { .. }));
        assert!(
            error
                .to_string()
                .starts_with("cannot create the control socket")
        );
    }
}
