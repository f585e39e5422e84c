//! `devices`: approved makers, device classes, onboarding, location assertions, ownership and
//! status.
//!
//! Keys: `devices/maker/<key>` → [`Maker`]; `devices/class/<name>` → `DeviceClassParams`;
//! `devices/dev/<key>` → [`Device`].
//!
//! Onboarding follows Helium's `add_gateway_v1`: the owner signs the transaction, the device
//! key signs its owner (proof of possession), and an approved maker signs its approval. The
//! class's onboarding fee (and, for location-bound classes, the location fee) is burned from
//! the owner.

use crate::components::{bank, TxContext};
use crate::error::{ReasonCode, StateError};
use crate::state::{get, Overlay, StateRead};
use crate::TxError;
use borsh::{BorshDeserialize, BorshSerialize};
use depin_types::tx::{DeviceAction, DeviceStatus, OnboardDevice};
use depin_types::{Amount, Antenna, DeviceClassParams, Location, PublicKey};
use serde::{Deserialize, Serialize};

/// Key prefix of makers.
pub const MAKER_PREFIX: &[u8] = b"devices/maker/";
/// Key prefix of device classes.
pub const CLASS_PREFIX: &[u8] = b"devices/class/";
/// Key prefix of devices.
pub const DEVICE_PREFIX: &[u8] = b"devices/dev/";

/// An approved maker.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Maker {
    /// Display name.
    pub name: String,
    /// Whether the maker may still approve devices.
    pub active: bool,
}

/// A registered device.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Device {
    /// Owner account.
    pub owner: PublicKey,
    /// Device class name.
    pub class: String,
    /// The maker that approved it.
    pub maker: PublicKey,
    /// Asserted location (location-bound classes only).
    pub location: Option<Location>,
    /// Antenna gain and elevation asserted with the location (radio classes).
    pub antenna: Option<Antenna>,
    /// Height of the last location assertion (0 if none).
    pub location_height: u64,
    /// Active or inactive.
    pub status: DeviceStatus,
    /// Height at which it was onboarded.
    pub onboarded_height: u64,
}

/// Errors of the `devices` component.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DevicesError {
    /// No such device class in genesis.
    #[error("unknown device class {class:?}")]
    UnknownClass {
        /// The class name.
        class: String,
    },
    /// The maker is not approved (or no longer active).
    #[error("maker {maker} is not an approved maker")]
    UnknownMaker {
        /// The maker key (hex).
        maker: String,
    },
    /// The device key is already registered.
    #[error("device {device} is already onboarded")]
    DeviceExists {
        /// The device key (hex).
        device: String,
    },
    /// No such device.
    #[error("device {device} is not onboarded")]
    UnknownDevice {
        /// The device key (hex).
        device: String,
    },
    /// The signer does not own the device.
    #[error("signer does not own device {device}")]
    NotOwner {
        /// The device key (hex).
        device: String,
    },
    /// A location-bound class needs a location at onboarding.
    #[error("device class {class:?} is location-bound: a location is required")]
    LocationRequired {
        /// The class name.
        class: String,
    },
    /// The class is not location-bound.
    #[error("device class {class:?} is not location-bound: it cannot assert a location")]
    NotLocationBound {
        /// The class name.
        class: String,
    },
    /// A device key equal to its owner's key.
    #[error("the device key must differ from the owner key")]
    DeviceIsOwner,
    /// Antenna gain or elevation out of range.
    #[error("antenna gain {gain_ddbi} dBi×10 or elevation {elevation_m} m is out of range")]
    InvalidAntenna {
        /// Gain, dBi × 10.
        gain_ddbi: i32,
        /// Elevation, m.
        elevation_m: i32,
    },
}

impl ReasonCode for DevicesError {
    fn code(&self) -> &'static str {
        match self {
            DevicesError::UnknownClass { .. } => "unknown_device_class",
            DevicesError::UnknownMaker { .. } => "unknown_maker",
            DevicesError::DeviceExists { .. } => "device_exists",
            DevicesError::UnknownDevice { .. } => "unknown_device",
            DevicesError::NotOwner { .. } => "not_device_owner",
            DevicesError::LocationRequired { .. } => "location_required",
            DevicesError::NotLocationBound { .. } => "not_location_bound",
            DevicesError::DeviceIsOwner => "device_is_owner",
            DevicesError::InvalidAntenna { .. } => "invalid_antenna",
        }
    }
}

/// State key of a device.
pub fn device_key(device: &PublicKey) -> Vec<u8> {
    [DEVICE_PREFIX, &device.0].concat()
}

/// State key of a maker.
pub fn maker_key(maker: &PublicKey) -> Vec<u8> {
    [MAKER_PREFIX, &maker.0].concat()
}

/// State key of a device class.
pub fn class_key(name: &str) -> Vec<u8> {
    [CLASS_PREFIX, name.as_bytes()].concat()
}

/// Reads a device.
pub fn device(s: &impl StateRead, device: &PublicKey) -> Result<Option<Device>, StateError> {
    get(s, &device_key(device))
}

/// Reads a device class.
pub fn class(s: &impl StateRead, name: &str) -> Result<Option<DeviceClassParams>, StateError> {
    get(s, &class_key(name))
}

/// Reads a maker.
pub fn maker(s: &impl StateRead, key: &PublicKey) -> Result<Option<Maker>, StateError> {
    get(s, &maker_key(key))
}

/// Stateful check of a device action.
pub fn check(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    action: &DeviceAction,
) -> Result<(), TxError> {
    match action {
        DeviceAction::Onboard(o) => check_onboard(s, ctx, o).map(|_| ()),
        DeviceAction::AssertLocation {
            device, antenna, ..
        } => {
            let (d, c) = owned_device_and_class(s, ctx, device)?;
            if !c.location_bound {
                return Err(DevicesError::NotLocationBound { class: d.class }.into());
            }
            check_antenna(antenna.as_ref())?;
            bank::check_transfer(s, ctx, c.location_fee_bones)
        }
        DeviceAction::TransferOwnership { device, .. } | DeviceAction::SetStatus { device, .. } => {
            owned_device_and_class(s, ctx, device).map(|_| ())
        }
    }
}

/// Executes a device action (after [`check`] passed).
pub fn execute(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    action: &DeviceAction,
) -> Result<(), TxError> {
    match action {
        DeviceAction::Onboard(o) => execute_onboard(s, ctx, o),
        DeviceAction::AssertLocation {
            device,
            location,
            antenna,
        } => {
            let (mut d, c) = owned_device_and_class(s, ctx, device)?;
            bank::burn_from(s, &ctx.signer, c.location_fee_bones)?;
            d.location = Some(*location);
            d.antenna = *antenna;
            d.location_height = ctx.height;
            s.put(device_key(device), &d);
            Ok(())
        }
        DeviceAction::TransferOwnership { device, new_owner } => {
            let (mut d, _) = owned_device_and_class(s, ctx, device)?;
            d.owner = *new_owner;
            s.put(device_key(device), &d);
            Ok(())
        }
        DeviceAction::SetStatus { device, status } => {
            let (mut d, _) = owned_device_and_class(s, ctx, device)?;
            d.status = *status;
            s.put(device_key(device), &d);
            Ok(())
        }
    }
}

fn check_antenna(antenna: Option<&Antenna>) -> Result<(), DevicesError> {
    match antenna {
        Some(a) if !a.is_valid() => Err(DevicesError::InvalidAntenna {
            gain_ddbi: a.gain_ddbi,
            elevation_m: a.elevation_m,
        }),
        _ => Ok(()),
    }
}

fn owned_device_and_class(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    key: &PublicKey,
) -> Result<(Device, DeviceClassParams), TxError> {
    let d = device(s, key)?.ok_or(DevicesError::UnknownDevice {
        device: key.to_hex(),
    })?;
    if d.owner != ctx.signer {
        return Err(DevicesError::NotOwner {
            device: key.to_hex(),
        }
        .into());
    }
    let c = class(s, &d.class)?.ok_or(DevicesError::UnknownClass {
        class: d.class.clone(),
    })?;
    Ok((d, c))
}

/// Returns the total fee (onboarding plus location) the owner pays.
fn check_onboard(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    o: &OnboardDevice,
) -> Result<Amount, TxError> {
    let c = class(s, &o.class)?.ok_or(DevicesError::UnknownClass {
        class: o.class.clone(),
    })?;
    match maker(s, &o.maker)? {
        Some(m) if m.active => {}
        _ => {
            return Err(DevicesError::UnknownMaker {
                maker: o.maker.to_hex(),
            }
            .into())
        }
    }
    if o.device == ctx.signer {
        return Err(DevicesError::DeviceIsOwner.into());
    }
    if device(s, &o.device)?.is_some() {
        return Err(DevicesError::DeviceExists {
            device: o.device.to_hex(),
        }
        .into());
    }
    let fee = match (c.location_bound, o.location.is_some()) {
        (true, true) => c
            .onboarding_fee_bones
            .checked_add(c.location_fee_bones)
            .map_err(|_| bank::BankError::BalanceOverflow)?,
        (true, false) => return Err(DevicesError::LocationRequired { class: c.name }.into()),
        (false, true) => return Err(DevicesError::NotLocationBound { class: c.name }.into()),
        (false, false) => c.onboarding_fee_bones,
    };
    if o.antenna.is_some() && !c.location_bound {
        return Err(DevicesError::NotLocationBound { class: c.name }.into());
    }
    check_antenna(o.antenna.as_ref())?;
    bank::check_transfer(s, ctx, fee)?;
    Ok(fee)
}

fn execute_onboard(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    o: &OnboardDevice,
) -> Result<(), TxError> {
    let fee = check_onboard(s, ctx, o)?;
    bank::burn_from(s, &ctx.signer, fee)?;
    let d = Device {
        owner: ctx.signer,
        class: o.class.clone(),
        maker: o.maker,
        location: o.location,
        antenna: o.antenna,
        location_height: if o.location.is_some() { ctx.height } else { 0 },
        status: DeviceStatus::Active,
        onboarded_height: ctx.height,
    };
    s.put(device_key(&o.device), &d);
    Ok(())
}
