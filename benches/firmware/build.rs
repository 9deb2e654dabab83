//! Gives each binary its memory layout for cortex-m-rt's link.x, which
//! includes `memory.x` from the linker's search path: the footprint
//! firmware gets memory-stm32f4.x (an STM32F4-class part), the `qemu` one
//! memory-mps2.x (QEMU's mps2-an386 board). One directory per binary,
//! each holding its file as `memory.x`, passed to that binary's link only.
//! (No file in this directory may be called `memory.x`: the linker looks
//! in its working directory, the package's, before the search path.)
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    for (bin, layout) in [
        ("alertgate-firmware", "memory-stm32f4.x"),
        ("qemu", "memory-mps2.x"),
    ] {
        let dir = out.join(bin);
        fs::create_dir_all(&dir).unwrap();
        fs::copy(layout, dir.join("memory.x")).unwrap();
        println!("cargo:rustc-link-arg-bin={bin}=-L{}", dir.display());
        println!("cargo:rerun-if-changed={layout}");
    }
}
