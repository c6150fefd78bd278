//! Tauri's build step: reads `tauri.conf.json` and `capabilities/`, and checks that the
//! commands the capabilities name exist.

fn main() {
    tauri_build::build();
}
