//! The `botflow-wal` VFS: the writer's WAL frames reach the file in one
//! write per commit.
//!
//! SQLite writes each WAL frame with two system calls, its 24-byte header and
//! then its page, so a group commit of 44 frames is 88 `pwrite`s before its
//! `fdatasync`; on the single writer thread they were 18 % of its time. This
//! VFS wraps the platform's default one and changes one thing: writes to a
//! file opened as a WAL that follow one another are held in memory and made
//! as one write as soon as anything else is asked of the file (a sync, a
//! read, its size, a truncation, a file control, its close), when a write
//! does not follow on, or when [`MAX_HELD`] bytes are held. Every other call
//! goes to the default VFS, so locks, shared memory and the files themselves
//! are SQLite's own.
//!
//! Why no other connection, and no crash, can tell:
//!
//! - Other connections learn of new frames only from the wal-index header,
//!   which the writer updates after the commit's sync, and the sync makes the
//!   held writes first. Should a commit publish frames without a sync (a
//!   weaker `synchronous`, or padding SQLite writes after the sync when the
//!   file may not overwrite safely), the database file's memory barrier,
//!   which the writer asks for before it publishes the header, makes them.
//!   A write that fails there cannot be reported, though, so the store uses
//!   this VFS only with `synchronous = FULL`, where nothing is left by then.
//! - Held writes never outlive the WAL write lock: releasing it makes them
//!   first, as SQLite would have, so a transaction that spilled frames and
//!   rolled back cannot write them later over another writer's commit.
//! - The writer itself reads frames back (re-checksumming a transaction's
//!   overwritten frames, checkpoints): a read makes the held writes first.
//! - A write that fails keeps what is held, to be written by the next
//!   attempt; SQLite has only been told of the failure.
//! - A process that dies loses only writes it had not made yet, of a commit
//!   that had not returned: as if it had died before making them.

use std::ffi::{CStr, c_int, c_void};
use std::ptr;
use std::sync::{Mutex, OnceLock, PoisonError};

use libsqlite3_sys as ffi;

/// The name the store's writer opens its database with.
pub(crate) const NAME: &str = "botflow-wal";
const NAME_C: &CStr = c"botflow-wal";

/// The most bytes held, and so written in one call: the default VFS writes
/// at most 128 KiB - 1 bytes a call (it masks a length to 17 bits, SQLite's
/// own writes being a page at most) and reports a longer write as a full disk.
/// A group commit of 44 frames of 2 KiB is 91 KiB.
const MAX_HELD: usize = 0x1_ffff;

/// SQLite's lock slot in the wal-index that a writer holds (`WAL_WRITE_LOCK`).
const WAL_WRITE_LOCK: c_int = 0;

/// What both kinds of wrapped file start with.
#[repr(C)]
struct Wrapped {
    /// SQLite's view of the file: its methods are ours.
    base: ffi::sqlite3_file,
    /// The default VFS's file, [`INNER_OFFSET`] bytes in.
    inner: *mut ffi::sqlite3_file,
}

/// A WAL.
#[repr(C)]
struct WalFile {
    wrapped: Wrapped,
    /// The database file of the same connection, once linked.
    db: *mut DbFile,
    held: Vec<u8>,
    /// Where in the file `held` starts.
    held_at: i64,
    /// Writes SQLite asked for, and writes made to the file (for tests).
    asked: u64,
    made: u64,
}

/// A main database file: its barrier and its write-lock release make its
/// WAL's held writes.
#[repr(C)]
struct DbFile {
    wrapped: Wrapped,
    /// Its open WAL, if any.
    wal: *mut WalFile,
}

/// Where the default VFS's file starts inside ours, aligned for any field.
const INNER_OFFSET: usize = {
    let wal = std::mem::size_of::<WalFile>();
    let db = std::mem::size_of::<DbFile>();
    (if wal > db { wal } else { db }).next_multiple_of(16)
};
// SQLite allocates files 8-aligned.
const _: () = assert!(std::mem::align_of::<WalFile>() <= 8 && std::mem::align_of::<DbFile>() <= 8);

/// The main database files open on this VFS, by the name SQLite opened them
/// with (which their WAL's name leads back to), for their WALs to find:
/// addresses as integers; only `open` and `db_close` touch it.
static OPEN_DBS: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// Registers the VFS (once per process) and returns its name, or SQLite's
/// error code when there is no default VFS to wrap or registering failed.
pub(crate) fn register() -> Result<&'static str, c_int> {
    static REGISTERED: OnceLock<Result<(), c_int>> = OnceLock::new();
    let registered = REGISTERED.get_or_init(|| {
        // SAFETY: `sqlite3_vfs_find(NULL)` initialises SQLite if needed and
        // returns the default VFS, which SQLite never frees.
        let real = unsafe { ffi::sqlite3_vfs_find(ptr::null()) };
        if real.is_null() {
            return Err(ffi::SQLITE_ERROR);
        }
        // SAFETY: `real` is a registered VFS, valid for the process.
        let real_ref = unsafe { &*real };
        let inner_size = usize::try_from(real_ref.szOsFile).unwrap_or(0);
        let Ok(size) = c_int::try_from(INNER_OFFSET + inner_size) else {
            return Err(ffi::SQLITE_ERROR);
        };
        let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
            iVersion: real_ref.iVersion,
            szOsFile: size,
            mxPathname: real_ref.mxPathname,
            pNext: ptr::null_mut(),
            zName: NAME_C.as_ptr(),
            pAppData: real.cast::<c_void>(),
            xOpen: Some(open),
            // The rest take the VFS they are called on and use nothing of it
            // (the default VFS's own ignore it), so they are used as they are.
            ..*real_ref
        }));
        // SAFETY: `vfs` is leaked, so it outlives every connection; SQLite
        // links it into its list and never writes to it otherwise.
        match unsafe { ffi::sqlite3_vfs_register(vfs, 0) } {
            ffi::SQLITE_OK => Ok(()),
            code => Err(code),
        }
    });
    registered.map(|()| NAME)
}

/// Opens `name` with the default VFS: a WAL inside a [`WalFile`], a main
/// database inside a [`DbFile`], any other file in place.
unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY (all of this function): SQLite hands `open` this VFS, built by
    // `register` with the default VFS in `pAppData`, and `file` with
    // `szOsFile` bytes, enough for either wrapper and the default VFS's file
    // after it at `INNER_OFFSET`.
    unsafe {
        let real = (*vfs).pAppData.cast::<ffi::sqlite3_vfs>();
        let Some(real_open) = (*real).xOpen else {
            (*file).pMethods = ptr::null();
            return ffi::SQLITE_ERROR;
        };
        let is_wal = flags & ffi::SQLITE_OPEN_WAL != 0;
        let is_db = flags & ffi::SQLITE_OPEN_MAIN_DB != 0 && !name.is_null();
        if !is_wal && !is_db {
            // The default VFS's file in place: SQLite calls its methods directly.
            return real_open(real, name, file, flags, out_flags);
        }
        let inner = file
            .cast::<u8>()
            .add(INNER_OFFSET)
            .cast::<ffi::sqlite3_file>();
        // Read below even if the open fails before setting it.
        (*inner).pMethods = ptr::null();
        let opened = real_open(real, name, inner, flags, out_flags);
        if opened != ffi::SQLITE_OK {
            // SQLite closes a file whose open failed only if its methods are
            // set; ours are not, so the inner one is closed here.
            if let Some(close) = methods(inner).and_then(|m| m.xClose) {
                close(inner);
            }
            (*file).pMethods = ptr::null();
            return opened;
        }
        let wrapped = |methods: &'static ffi::sqlite3_io_methods| Wrapped {
            base: ffi::sqlite3_file { pMethods: methods },
            inner,
        };
        let mut dbs = OPEN_DBS.lock().unwrap_or_else(PoisonError::into_inner);
        if is_wal {
            // A WAL's name leads back to its database's, the very pointer its
            // connection opened the database file with.
            let db_name = ffi::sqlite3_filename_database(name) as usize;
            let db = dbs
                .iter()
                .find(|(name, _)| *name == db_name)
                .map_or(ptr::null_mut(), |(_, db)| *db as *mut DbFile);
            let wal = file.cast::<WalFile>();
            ptr::write(
                wal,
                WalFile {
                    wrapped: wrapped(&WAL_METHODS),
                    db,
                    held: Vec::new(),
                    held_at: 0,
                    asked: 0,
                    made: 0,
                },
            );
            if !db.is_null() {
                (*db).wal = wal;
            }
        } else {
            ptr::write(
                file.cast::<DbFile>(),
                DbFile {
                    wrapped: wrapped(&DB_METHODS),
                    wal: ptr::null_mut(),
                },
            );
            dbs.push((name as usize, file as usize));
        }
        ffi::SQLITE_OK
    }
}

/// The methods of the default VFS's file under `file`, if it is open.
///
/// # Safety
/// `file` points to an open (or failed-open) `sqlite3_file`.
unsafe fn methods<'a>(file: *mut ffi::sqlite3_file) -> Option<&'a ffi::sqlite3_io_methods> {
    // SAFETY: per the caller; methods tables are static in the default VFS.
    unsafe { (*file).pMethods.as_ref() }
}

impl Wrapped {
    /// # Safety
    /// `file` is a [`WalFile`] or [`DbFile`] opened by [`open`], not closed.
    unsafe fn of<'a>(file: *mut ffi::sqlite3_file) -> &'a Wrapped {
        // SAFETY: per the caller; both start with a `Wrapped`.
        unsafe { &*file.cast::<Wrapped>() }
    }

    fn inner_methods(&self) -> Option<&'static ffi::sqlite3_io_methods> {
        // SAFETY: `inner` was opened by the default VFS and stays open until
        // `close`, after which the wrapper is gone.
        unsafe { methods(self.inner) }
    }
}

impl WalFile {
    /// # Safety
    /// `file` is a WAL opened by [`open`] and not closed.
    unsafe fn of<'a>(file: *mut ffi::sqlite3_file) -> &'a mut WalFile {
        // SAFETY: per the caller; SQLite uses a connection's files from one
        // thread at a time, and no `&mut` to it is live across calls.
        unsafe { &mut *file.cast::<WalFile>() }
    }

    fn write_through(&mut self, bytes: *const c_void, amount: c_int, offset: i64) -> c_int {
        let Some(write) = self.wrapped.inner_methods().and_then(|m| m.xWrite) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        self.made += 1;
        // SAFETY: `inner` is open (see `inner_methods`); `bytes` holds
        // `amount` bytes, per `xWrite`'s caller or `held`.
        unsafe { write(self.wrapped.inner, bytes, amount, offset) }
    }

    /// Makes the held writes, as one write. On an error they stay held, to
    /// be made by the next attempt: SQLite may go on with the transaction
    /// (it undoes a statement, not always all), believing them written.
    fn flush(&mut self) -> c_int {
        if self.held.is_empty() {
            return ffi::SQLITE_OK;
        }
        // `held` never grows past MAX_HELD, which fits.
        let amount = c_int::try_from(self.held.len()).unwrap_or(c_int::MAX);
        let (bytes, at) = (self.held.as_ptr().cast(), self.held_at);
        let written = self.write_through(bytes, amount, at);
        if written == ffi::SQLITE_OK {
            self.held.clear();
        }
        written
    }
}

/// Forwards a call to the default VFS's file under any wrapper.
macro_rules! straight {
    ($file:ident, $method:ident, $missing:expr, $($arg:expr),*) => {{
        // SAFETY: SQLite calls these methods only on files `open` wrapped.
        let wrapped = unsafe { Wrapped::of($file) };
        match wrapped.inner_methods().and_then(|m| m.$method) {
            // SAFETY: `inner` is open; the arguments are SQLite's own.
            Some(method) => unsafe { method(wrapped.inner, $($arg),*) },
            None => $missing,
        }
    }};
}

/// Forwards a call to a WAL's file after making the held writes.
macro_rules! flushed_then {
    ($file:ident, $method:ident, $missing:expr, $($arg:expr),*) => {{
        // SAFETY: SQLite calls these methods only on a WAL `open` set up.
        let flushed = unsafe { WalFile::of($file) }.flush();
        if flushed != ffi::SQLITE_OK {
            return flushed;
        }
        straight!($file, $method, $missing, $($arg),*)
    }};
}

/// The methods of a WAL, and of a database file: what both pass straight on.
macro_rules! io_methods {
    ($close:ident, $read:ident, $write:ident, $truncate:ident, $sync:ident, $size:ident,
     $control:ident, $fetch:ident, $shm_lock:ident, $shm_barrier:ident) => {
        ffi::sqlite3_io_methods {
            iVersion: 3,
            xClose: Some($close),
            xRead: Some($read),
            xWrite: Some($write),
            xTruncate: Some($truncate),
            xSync: Some($sync),
            xFileSize: Some($size),
            xLock: Some(lock),
            xUnlock: Some(unlock),
            xCheckReservedLock: Some(check_reserved_lock),
            xFileControl: Some($control),
            xSectorSize: Some(sector_size),
            xDeviceCharacteristics: Some(device_characteristics),
            xShmMap: Some(shm_map),
            xShmLock: Some($shm_lock),
            xShmBarrier: Some($shm_barrier),
            xShmUnmap: Some(shm_unmap),
            xFetch: Some($fetch),
            xUnfetch: Some(unfetch),
        }
    };
}

static WAL_METHODS: ffi::sqlite3_io_methods = io_methods!(
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_file_control,
    wal_fetch,
    shm_lock,
    shm_barrier
);

static DB_METHODS: ffi::sqlite3_io_methods = io_methods!(
    db_close,
    read,
    write,
    truncate,
    sync,
    file_size,
    file_control,
    fetch,
    db_shm_lock,
    db_shm_barrier
);

unsafe extern "C" fn wal_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes a file once, and uses it no more.
    let wal = unsafe { WalFile::of(file) };
    let flushed = wal.flush();
    if !wal.db.is_null() {
        // SAFETY: a linked database file unlinks itself when it closes first.
        unsafe { (*wal.db).wal = ptr::null_mut() };
    }
    let closed = straight!(file, xClose, ffi::SQLITE_OK,);
    // SAFETY: `open` wrote this `WalFile`; it is dropped once, here.
    unsafe { ptr::drop_in_place(file.cast::<WalFile>()) };
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

unsafe extern "C" fn db_close(file: *mut ffi::sqlite3_file) -> c_int {
    let db = file.cast::<DbFile>();
    {
        let mut dbs = OPEN_DBS.lock().unwrap_or_else(PoisonError::into_inner);
        dbs.retain(|(_, open)| *open != db as usize);
    }
    // SAFETY: `open` wrote this `DbFile`; SQLite closes it once.
    let wal = unsafe { (*db).wal };
    if !wal.is_null() {
        // SAFETY: a linked WAL unlinks itself when it closes first.
        unsafe { (*wal).db = ptr::null_mut() };
    }
    let closed = straight!(file, xClose, ffi::SQLITE_OK,);
    // SAFETY: as above; dropped once, here.
    unsafe { ptr::drop_in_place(db) };
    closed
}

/// The open WAL linked to database file `file`, if any.
///
/// # Safety
/// `file` is a [`DbFile`] opened by [`open`], not closed.
unsafe fn linked_wal<'a>(file: *mut ffi::sqlite3_file) -> Option<&'a mut WalFile> {
    // SAFETY: per the caller; a linked WAL is open (it unlinks itself on
    // close), and the connection uses its files from one thread at a time.
    unsafe { (*file.cast::<DbFile>()).wal.as_mut() }
}

unsafe extern "C" fn db_shm_barrier(file: *mut ffi::sqlite3_file) {
    // The writer publishes a commit's wal-index header between two barriers:
    // its frames go to the file first. With `synchronous = FULL` its sync made
    // them already; an error here leaves them held for the next attempt.
    // SAFETY: SQLite calls this only on the database file `open` wrapped.
    if let Some(wal) = unsafe { linked_wal(file) } {
        let _ = wal.flush();
    }
    straight!(file, xShmBarrier, (),)
}

unsafe extern "C" fn db_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    count: c_int,
    flags: c_int,
) -> c_int {
    let releases_write_lock = flags & ffi::SQLITE_SHM_UNLOCK != 0
        && offset <= WAL_WRITE_LOCK
        && WAL_WRITE_LOCK < offset.saturating_add(count);
    // SAFETY: as in `db_shm_barrier`.
    if releases_write_lock && let Some(wal) = unsafe { linked_wal(file) } {
        // What is still held belongs to a transaction that did not commit (a
        // commit publishes at the barrier). Written now, as SQLite would have
        // written it, it lands past the last commit; left held, it could
        // land later over another writer's, so it goes even if unwritten.
        if wal.flush() != ffi::SQLITE_OK {
            wal.held.clear();
        }
    }
    straight!(
        file,
        xShmLock,
        ffi::SQLITE_IOERR_SHMLOCK,
        offset,
        count,
        flags
    )
}

unsafe extern "C" fn wal_write(
    file: *mut ffi::sqlite3_file,
    bytes: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: as in `flushed_then`.
    let wal = unsafe { WalFile::of(file) };
    wal.asked += 1;
    let Ok(len) = usize::try_from(amount) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let follows = i64::try_from(wal.held.len())
        .ok()
        .and_then(|held| wal.held_at.checked_add(held))
        == Some(offset);
    if wal.held.is_empty() || !follows || wal.held.len() + len > MAX_HELD {
        let flushed = wal.flush();
        if flushed != ffi::SQLITE_OK {
            return flushed;
        }
        if len == 0 || len > MAX_HELD {
            return wal.write_through(bytes, amount, offset);
        }
        wal.held_at = offset;
    }
    // SAFETY: SQLite passes `amount` (> 0 here) readable bytes at `bytes`.
    let bytes = unsafe { std::slice::from_raw_parts(bytes.cast::<u8>(), len) };
    wal.held.extend_from_slice(bytes);
    ffi::SQLITE_OK
}

/// Defines a method of both kinds of file that passes its call on: for a
/// database file straight, for a WAL after making the held writes.
macro_rules! forwarders {
    ($straight:ident, $flushed:ident, $method:ident, $missing:expr, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $straight(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            straight!(file, $method, $missing, $($arg),*)
        }

        unsafe extern "C" fn $flushed(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            flushed_then!(file, $method, $missing, $($arg),*)
        }
    };
}

forwarders!(read, wal_read, xRead, ffi::SQLITE_IOERR_READ,
    (buffer: *mut c_void, amount: c_int, offset: ffi::sqlite3_int64));
forwarders!(truncate, wal_truncate, xTruncate, ffi::SQLITE_IOERR_TRUNCATE,
    (size: ffi::sqlite3_int64));
forwarders!(sync, wal_sync, xSync, ffi::SQLITE_IOERR_FSYNC, (flags: c_int));
forwarders!(file_size, wal_file_size, xFileSize, ffi::SQLITE_IOERR_FSTAT,
    (size: *mut ffi::sqlite3_int64));
forwarders!(file_control, wal_file_control, xFileControl, ffi::SQLITE_NOTFOUND,
    (op: c_int, arg: *mut c_void));
// SQLite sets the pointer to none before it asks (and reads instead then).
forwarders!(fetch, wal_fetch, xFetch, ffi::SQLITE_OK,
    (offset: ffi::sqlite3_int64, amount: c_int, out: *mut *mut c_void));

/// Defines a method that passes its call straight on, for either kind of file.
macro_rules! straight_fn {
    ($name:ident -> $ret:ty, $method:ident, $missing:expr, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> $ret {
            straight!(file, $method, $missing, $($arg),*)
        }
    };
}

straight_fn!(write -> c_int, xWrite, ffi::SQLITE_IOERR_WRITE,
    (bytes: *const c_void, amount: c_int, offset: ffi::sqlite3_int64));
straight_fn!(unfetch -> c_int, xUnfetch, ffi::SQLITE_OK,
    (offset: ffi::sqlite3_int64, page: *mut c_void));
straight_fn!(lock -> c_int, xLock, ffi::SQLITE_IOERR_LOCK, (level: c_int));
straight_fn!(unlock -> c_int, xUnlock, ffi::SQLITE_IOERR_UNLOCK, (level: c_int));
straight_fn!(check_reserved_lock -> c_int, xCheckReservedLock,
    ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, (out: *mut c_int));
straight_fn!(sector_size -> c_int, xSectorSize, 4096, ());
straight_fn!(device_characteristics -> c_int, xDeviceCharacteristics, 0, ());
straight_fn!(shm_map -> c_int, xShmMap, ffi::SQLITE_IOERR_SHMMAP,
    (region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void));
straight_fn!(shm_lock -> c_int, xShmLock, ffi::SQLITE_IOERR_SHMLOCK,
    (offset: c_int, count: c_int, flags: c_int));
straight_fn!(shm_barrier -> (), xShmBarrier, (), ());
straight_fn!(shm_unmap -> c_int, xShmUnmap, ffi::SQLITE_OK, (delete: c_int));

/// What the WAL of a connection's main database saw, when it is open on
/// this VFS.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WalWrites {
    /// Writes SQLite asked for.
    pub(crate) asked: u64,
    /// Writes made to the file.
    pub(crate) made: u64,
    /// Bytes held now.
    pub(crate) held: usize,
}

/// What the WAL of `conn`'s main database saw, when it is open on this VFS.
#[cfg(test)]
pub(crate) async fn wal_writes(conn: &mut sqlx::SqliteConnection) -> Option<WalWrites> {
    let mut handle = conn.lock_handle().await.ok()?;
    let db = handle.as_raw_handle().as_ptr();
    let mut wal: *mut ffi::sqlite3_file = ptr::null_mut();
    // SAFETY: `db` is an open connection held locked; the file control
    // writes the journal's (here the WAL's) file pointer into `wal`.
    let found = unsafe {
        ffi::sqlite3_file_control(
            db,
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_JOURNAL_POINTER,
            (&raw mut wal).cast::<c_void>(),
        )
    };
    if found != ffi::SQLITE_OK || wal.is_null() {
        return None;
    }
    // SAFETY: `wal` is open while the connection is held.
    let ours = unsafe { ptr::eq((*wal).pMethods, &WAL_METHODS) };
    // SAFETY: a file with these methods was set up by `open`.
    ours.then(|| unsafe {
        let wal = WalFile::of(wal);
        WalWrites {
            asked: wal.asked,
            made: wal.made,
            held: wal.held.len(),
        }
    })
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use sqlx::{ConnectOptions, SqliteConnection};

    use super::*;

    async fn connect(path: &std::path::Path, gathered: bool) -> SqliteConnection {
        connect_with(path, gathered, SqliteSynchronous::Full).await
    }

    async fn connect_with(
        path: &std::path::Path,
        gathered: bool,
        synchronous: SqliteSynchronous,
    ) -> SqliteConnection {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .page_size(2048)
            .pragma("wal_autocheckpoint", "0");
        let options = if gathered {
            options.vfs(register().expect("registers"))
        } else {
            options
        };
        options.connect().await.expect("connects")
    }

    async fn run(conn: &mut SqliteConnection, sql: &'static str) {
        sqlx::raw_sql(sql).execute(conn).await.expect("runs");
    }

    #[tokio::test]
    async fn a_commit_reaches_the_wal_file_in_one_write() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut writer = connect(&dir.path().join("one.db"), true).await;
        // The first commit also writes the WAL's header (and syncs it alone).
        run(
            &mut writer,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        )
        .await;
        let before = wal_writes(&mut writer).await.expect("the WAL is ours");
        run(
            &mut writer,
            "BEGIN;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
             INSERT INTO t (v) SELECT printf('%.500c', 'x') FROM n;
             COMMIT;",
        )
        .await;
        let after = wal_writes(&mut writer).await.expect("still ours");
        // 100 rows of 500 bytes fill some 26 pages of 2 KiB, two writes each.
        let asked = after.asked - before.asked;
        assert!(asked > 40, "asked {asked}");
        assert_eq!(after.made - before.made, 1, "one write per commit");
        assert_eq!(after.held, 0);
    }

    #[tokio::test]
    async fn what_the_writer_held_other_connections_read_whole() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("whole.db");
        let mut writer = connect(&path, true).await;
        // A cache of a few pages makes the transaction spill frames into the
        // WAL before it commits and write some of them again, which SQLite
        // follows by reading them back to recompute their checksums.
        run(
            &mut writer,
            "PRAGMA cache_size = 8;
             CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
             BEGIN;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO t (v) SELECT printf('%.200c', 'a') FROM n;
             UPDATE t SET v = printf('%.300c', 'b') WHERE id % 2 = 0;
             COMMIT;",
        )
        .await;
        let made = wal_writes(&mut writer).await.expect("the WAL is ours").made;
        assert!(made > 2, "the transaction spilled ({made} writes)");

        // A connection on SQLite's own VFS reads every frame from the file.
        let mut reader = connect(&path, false).await;
        let (rows, bytes): (i64, i64) = sqlx::query_as("SELECT count(*), sum(length(v)) FROM t")
            .fetch_one(&mut reader)
            .await
            .expect("reads");
        assert_eq!((rows, bytes), (3000, 1500 * 200 + 1500 * 300));
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut reader)
            .await
            .expect("checks");
        assert_eq!(check, "ok");
        // And the checkpoint it runs copies them into the database file.
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut reader)
            .await
            .expect("checkpoints");
        assert_eq!(busy, 0);
    }

    /// A transaction of `rows` rows of 300 bytes, with a cache too small for
    /// it, so that it spills frames into the WAL before it ends.
    const SPILLING: &str = "PRAGMA cache_size = 8; BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
         INSERT INTO t (v) SELECT printf('%.300c', 'c') FROM n;";

    async fn count(conn: &mut SqliteConnection) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(conn)
            .await
            .expect("counts")
    }

    #[tokio::test]
    async fn nothing_stays_held_once_the_write_lock_is_let_go() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("lock.db");
        let mut first = connect(&path, true).await;
        run(
            &mut first,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        )
        .await;
        run(&mut first, SPILLING).await;
        let during = wal_writes(&mut first).await.expect("the WAL is ours");
        assert!(during.made > 1, "the transaction spilled");
        assert!(during.held > 0, "the last spilled frames are held");
        run(&mut first, "ROLLBACK").await;
        // Had the rolled-back frames stayed held, the first connection's next
        // use of its WAL would write them over the second writer's commit.
        // (SQLite's undo reads some frames back, which writes them too; the
        // release of the write lock writes whatever is left.)
        assert_eq!(wal_writes(&mut first).await.expect("ours").held, 0);

        let mut second = connect(&path, true).await;
        run(&mut second, "INSERT INTO t (v) VALUES ('second')").await;
        assert_eq!(count(&mut first).await, 1);
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut first)
            .await
            .expect("checks");
        assert_eq!(check, "ok");
    }

    #[tokio::test]
    async fn a_commit_that_does_not_sync_is_in_the_file_before_it_is_published() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("off.db");
        // With `synchronous = OFF` nothing syncs the WAL; the barrier before
        // the wal-index header is published writes what is held.
        let mut writer = connect_with(&path, true, SqliteSynchronous::Off).await;
        run(
            &mut writer,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        )
        .await;
        run(&mut writer, SPILLING).await;
        run(&mut writer, "COMMIT").await;
        assert_eq!(wal_writes(&mut writer).await.expect("ours").held, 0);
        let mut reader = connect(&path, false).await;
        assert_eq!(count(&mut reader).await, 2000);
    }

    #[tokio::test]
    async fn other_files_are_the_default_vfs_own() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut writer = connect(&dir.path().join("other.db"), true).await;
        run(
            &mut writer,
            "PRAGMA journal_mode = DELETE; CREATE TABLE t (x)",
        )
        .await;
        // In rollback-journal mode there is no WAL: nothing of this VFS's own.
        assert_eq!(wal_writes(&mut writer).await, None);
        run(&mut writer, "INSERT INTO t VALUES (1)").await;
    }
}
