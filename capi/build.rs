//! Gives the shared library a SONAME (`soname.rs`).

#[path = "../soname.rs"]
mod soname;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../soname.rs");
    soname::soname("rustc-cdylib-link-arg");
}
