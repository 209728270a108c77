//! Ports derived from the gateway's base port (lifecycle.md §4.3).
//!
//! Several gateways on one host (profiles, a rescue bot) each need their own browser control
//! server, canvas host and Chrome CDP range. Those ports are not configured one by one: they
//! follow the gateway port at fixed offsets, so moving the base port (`--dev` uses 19001) moves
//! them all. An offset that leaves the valid range (1–65535) falls back to the fixed default
//! port instead, as the reference does (`derivePort` / `clampPort`).

/// The gateway port when nothing configures one.
pub const DEFAULT_GATEWAY_PORT: u16 = 18789;
/// The gateway port of the `dev` profile (`--dev`).
pub const DEV_GATEWAY_PORT: u16 = 19001;
/// Browser control server (loopback only): base + 2, else this.
pub const DEFAULT_BROWSER_CONTROL_PORT: u16 = 18791;
/// Canvas host: base + 4, else this.
pub const DEFAULT_CANVAS_HOST_PORT: u16 = 18793;
/// Managed Chrome CDP range when the derived one does not fit.
pub const DEFAULT_CDP_RANGE: PortRange = PortRange {
    start: 18800,
    end: 18899,
};

const BROWSER_CONTROL_OFFSET: u32 = 2;
const CANVAS_HOST_OFFSET: u32 = 4;
/// The CDP range starts this far above the browser control port …
const CDP_START_OFFSET: u32 = 9;
/// … and spans this many ports more (control + 9 ..= control + 108: 100 ports).
const CDP_SPAN: u32 = 99;

/// An inclusive range of ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

/// Every port a gateway on `gateway` uses or reserves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DerivedPorts {
    /// The base: the gateway's own WebSocket + HTTP port.
    pub gateway: u16,
    /// The browser control server (`browser.controlPort`), loopback only.
    pub browser_control: u16,
    /// The canvas host (`canvasHost.port`).
    pub canvas_host: u16,
    /// Ports handed to managed Chrome profiles for CDP.
    pub cdp_range: PortRange,
}

impl DerivedPorts {
    /// The derived ports of a gateway listening on `gateway`.
    pub fn from_base(gateway: u16) -> Self {
        let browser_control = derive(
            gateway,
            BROWSER_CONTROL_OFFSET,
            DEFAULT_BROWSER_CONTROL_PORT,
        );
        Self {
            gateway,
            browser_control,
            canvas_host: derive(gateway, CANVAS_HOST_OFFSET, DEFAULT_CANVAS_HOST_PORT),
            cdp_range: cdp_range(browser_control),
        }
    }
}

/// `base + offset` when that is a valid port (1–65535), else `fallback`.
fn derive(base: u16, offset: u32, fallback: u16) -> u16 {
    valid_port(u32::from(base) + offset).unwrap_or(fallback)
}

fn valid_port(port: u32) -> Option<u16> {
    u16::try_from(port).ok().filter(|p| *p != 0)
}

/// `control + 9 ..= control + 108`; when the end would pass 65535, the whole default range
/// (a start alone in range is not enough: the profile allocator needs all 100 ports).
fn cdp_range(browser_control: u16) -> PortRange {
    let start = derive(browser_control, CDP_START_OFFSET, DEFAULT_CDP_RANGE.start);
    match valid_port(u32::from(start) + CDP_SPAN) {
        Some(end) => PortRange { start, end },
        None => DEFAULT_CDP_RANGE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_dev_bases() {
        let ports = DerivedPorts::from_base(DEFAULT_GATEWAY_PORT);
        assert_eq!(ports.browser_control, DEFAULT_BROWSER_CONTROL_PORT);
        assert_eq!(ports.canvas_host, DEFAULT_CANVAS_HOST_PORT);
        assert_eq!(ports.cdp_range, DEFAULT_CDP_RANGE, "18791+9 ..= 18791+108");

        // The runbook's dev numbers: 19003 and 19005.
        let dev = DerivedPorts::from_base(DEV_GATEWAY_PORT);
        assert_eq!(
            dev,
            DerivedPorts {
                gateway: 19001,
                browser_control: 19003,
                canvas_host: 19005,
                cdp_range: PortRange {
                    start: 19012,
                    end: 19111
                },
            }
        );
    }

    #[test]
    fn out_of_range_offsets_fall_back_to_the_defaults() {
        let top = DerivedPorts::from_base(65534);
        assert_eq!(
            top.browser_control, DEFAULT_BROWSER_CONTROL_PORT,
            "65536 is no port"
        );
        assert_eq!(top.canvas_host, DEFAULT_CANVAS_HOST_PORT);
        assert_eq!(
            top.cdp_range,
            PortRange {
                start: 18800,
                end: 18899
            }
        );

        let edge = DerivedPorts::from_base(65531);
        assert_eq!(edge.browser_control, 65533);
        assert_eq!(edge.canvas_host, 65535, "the last valid port is kept");
        assert_eq!(edge.cdp_range, DEFAULT_CDP_RANGE, "65542 is past the end");

        // The CDP start fits but its end does not: the whole default range.
        let tail = DerivedPorts::from_base(65_430);
        assert_eq!(tail.browser_control, 65_432, "CDP would be 65441 ..= 65540");
        assert_eq!(tail.cdp_range, DEFAULT_CDP_RANGE);

        // The largest base whose whole CDP range still fits.
        let fits = DerivedPorts::from_base(65_535 - 2 - 108);
        assert_eq!(fits.cdp_range.end, 65_535);
    }
}
