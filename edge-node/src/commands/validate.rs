//! `edge-node validate`: checks a config file and prints the settings it yields (secrets and
//! the cameras' passwords hidden).

use std::path::Path;

use anyhow::Result;

pub fn run(path: &Path) -> Result<()> {
    let config = super::load_config(Some(path))?;
    super::check_stages(&config)?;
    println!("{config:#?}");
    Ok(())
}
