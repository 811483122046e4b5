//! The process environment, changed in place.

/// Sets one variable for hardinit and everything it starts from now on.
pub fn set(name: impl AsRef<std::ffi::OsStr>, value: impl AsRef<std::ffi::OsStr>) {
    // SAFETY: setenv is unsound only while another thread reads the environment; hardinit has a
    // single thread (it never spawns one), and this runs before the server is started.
    unsafe { std::env::set_var(name, value) };
}
