//! The coverage module's commands (feature `cli`): `depin coverage hex-scales` (HIP-17 hex
//! scales of a hotspots file) and the agent roles `depin agent hotspot` (one onboarded
//! hotspot) and `depin agent fleet` (one hotspot per entry of a hotspots file, onboarded and
//! run together on one simulated air).

use crate::agent::fleet::{self, Delivery, IntervalRun, Schedule};
use crate::agent::onboard::device_key;
use crate::agent::{
    read_hotspots, Fleet, HotspotAgent, Onboarder, RadioParams, Traffic, DEFAULT_ANTENNA,
};
use crate::hex_density::{HexScales, SCALE_DECIMALS};
use crate::{CoverageParams, RegionCatalog, CLASS, NAME};
use anyhow::{bail, Context, Result};
use clap::{ArgMatches, Args, Subcommand};
use depin_cli::module::{noun, parse, role, CliFuture, ModuleCli};
use depin_cli::{print, progress_bar, read_genesis, wallet::open, Ctx};
use depin_client::OracleClient;
use depin_types::wall_clock_ms;
use depin_types::{Antenna, Genesis, Location, SecretKey};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The module's commands, for its registration.
pub fn module_cli() -> ModuleCli {
    ModuleCli {
        commands: || {
            vec![noun::<CoverageCmd>(
                "coverage",
                "Coverage module tools (HIP-17 hex scales).",
            )]
        },
        run_command,
        agents: || {
            vec![
                role::<HotspotArgs>(
                    "hotspot",
                    "Run one onboarded hotspot: beacon once per beacon interval from the epoch's \
                     entropy. Alone on its simulated air it hears nobody; run hotspots together \
                     with `agent fleet`.",
                ),
                role::<FleetArgs>(
                    "fleet",
                    "Onboard one hotspot per entry of a hotspots file (owned by the wallet, \
                     approved by the maker) and run them all on one simulated air: beacons, and \
                     witnesses of whoever the radio simulator says hears them.",
                ),
            ]
        },
        run_agent,
    }
}

fn run_command<'a>(ctx: &'a Ctx, _name: &'a str, matches: &'a ArgMatches) -> CliFuture<'a> {
    Box::pin(async move { coverage(ctx, parse(matches)?) })
}

fn run_agent<'a>(ctx: &'a Ctx, role: &'a str, matches: &'a ArgMatches) -> CliFuture<'a> {
    Box::pin(async move {
        match role {
            "hotspot" => hotspot(ctx, parse(matches)?).await,
            "fleet" => fleet(ctx, parse(matches)?).await,
            other => bail!("the coverage module has no agent role {other}"),
        }
    })
}

/// What every coverage agent needs: where the oracle is, the chain's timing and the regions.
#[derive(Args, Debug)]
pub struct CoverageAgentArgs {
    /// Oracle URL.
    #[arg(long, env = "DEPIN_ORACLE", default_value = "http://127.0.0.1:7660")]
    pub oracle: String,
    /// The chain's genesis file (epoch length, the coverage module's beacon interval).
    #[arg(long, default_value = ".depin/genesis.toml")]
    pub genesis: PathBuf,
    /// LoRaWAN region catalog (Helium `lorawan-h3` layout), as given to the oracle.
    #[arg(long, env = "DEPIN_COVERAGE_REGIONS")]
    pub regions: PathBuf,
    /// Epochs to run (from the next epoch start).
    #[arg(long, default_value_t = u64::MAX)]
    pub epochs: u64,
    /// Seed of the radio simulator.
    #[arg(long, default_value_t = 0)]
    pub radio_seed: u64,
}

/// `agent hotspot`
#[derive(Args, Debug)]
pub struct HotspotArgs {
    /// The hotspot's device wallet file (onboarded with a location).
    #[arg(long)]
    pub device_wallet: PathBuf,
    /// Oracle, genesis, regions, epochs.
    #[command(flatten)]
    pub common: CoverageAgentArgs,
}

/// `agent fleet`
#[derive(Args, Debug)]
pub struct FleetArgs {
    /// Hotspots file (Helium explorer JSON), e.g.
    /// ../shared/data/helium_hotspots_2020/hotspots_2020-06_h384053.json.
    #[arg(long)]
    pub hotspots: PathBuf,
    /// The maker wallet approving the hotspots (one of genesis `makers`).
    #[arg(long)]
    pub maker_wallet: PathBuf,
    /// Fleet seed (any text): device keys derive from it and each entry.
    #[arg(long, default_value = "depin-fleet")]
    pub seed: String,
    /// Use only the first N entries.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Antenna gain of every hotspot, dBi × 10 (the file has none).
    #[arg(long, default_value_t = DEFAULT_ANTENNA.gain_ddbi)]
    pub gain_ddbi: i32,
    /// Antenna elevation of every hotspot, m.
    #[arg(long, default_value_t = DEFAULT_ANTENNA.elevation_m)]
    pub elevation_m: i32,
    /// Paid sensor traffic: the address whose delegated data credits pay for the packets
    /// the fleet forwards (none: no packets).
    #[arg(long)]
    pub payer: Option<depin_types::Address>,
    /// Sensor packets forwarded per beacon interval (with `--payer`).
    #[arg(long, default_value_t = 10)]
    pub packets_per_interval: u32,
    /// Payload of each sensor packet, bytes (24 bytes per data credit, at least 1 credit).
    #[arg(long, default_value_t = 48)]
    pub packet_bytes: u32,
    /// Oracle, genesis, regions, epochs.
    #[command(flatten)]
    pub common: CoverageAgentArgs,
}

/// Coverage commands.
#[derive(Subcommand, Debug)]
pub enum CoverageCmd {
    /// Print the HIP-17 scale of every asserted res-12 cell of a hotspots file as JSON
    /// (`{"<cell hex>": "0.1234", …}`, 4 decimals, banker's rounding).
    HexScales {
        /// Hotspots file: Helium explorer JSON (`{"data": [{"address", "location", …}]}`),
        /// e.g. ../shared/data/helium_hotspots_2020/hotspots_2020-06_h384053.json.
        #[arg(long)]
        hotspots: PathBuf,
    },
}

/// Runs a coverage command.
fn coverage(ctx: &Ctx, cmd: CoverageCmd) -> Result<()> {
    match cmd {
        CoverageCmd::HexScales { hotspots } => {
            let (entries, cells) = hotspot_cells(&hotspots)?;
            let scales = HexScales::compute(cells.iter().copied());
            let out: BTreeMap<String, String> = scales
                .iter()
                .map(|(c, s)| {
                    (
                        format!("{c:x}"),
                        format!("{s:.prec$}", prec = SCALE_DECIMALS as usize),
                    )
                })
                .collect();
            eprintln!(
                "{} hotspots, {} with a location, {} distinct cells",
                entries,
                cells.len(),
                out.len()
            );
            print(ctx.format, &out)
        }
    }
}

/// The chain's timing from genesis: epoch length and the coverage beacon interval.
///
/// Errors: a genesis without rewards or without the coverage module.
pub fn schedule(genesis: &Genesis) -> Result<Schedule> {
    let Some(r) = &genesis.rewards else {
        bail!("genesis has no rewards section: no epochs to beacon in");
    };
    let Some(params) = r.module_params(NAME) else {
        bail!("genesis does not weigh the {NAME} module");
    };
    let params = CoverageParams::from_json(params.as_json())?;
    Ok(Schedule {
        genesis_time_ms: genesis.genesis_time_ms,
        epoch_length_ms: r.epoch_length_ms,
        beacon_interval_ms: params.beacon_interval_ms,
    })
}

/// The channel plan a hotspot at `location` beacons on (empty outside every region).
fn plan_at(catalog: &RegionCatalog, location: Location) -> Vec<crate::region::Channel> {
    catalog
        .plan_at(location.index())
        .map(<[_]>::to_vec)
        .unwrap_or_default()
}

struct Running {
    chain_id: String,
    schedule: Schedule,
    catalog: RegionCatalog,
}

async fn prepare(ctx: &Ctx, a: &CoverageAgentArgs) -> Result<Running> {
    let genesis = read_genesis(&a.genesis)?;
    let chain = ctx.client().chain().await?;
    if chain.chain_id != genesis.chain_id {
        bail!(
            "the node runs {} but {} is {}",
            chain.chain_id,
            a.genesis.display(),
            genesis.chain_id
        );
    }
    Ok(Running {
        chain_id: genesis.chain_id.clone(),
        schedule: schedule(&genesis)?,
        catalog: RegionCatalog::load(&a.regions)
            .with_context(|| format!("loading regions from {}", a.regions.display()))?,
    })
}

/// Runs `fleet` from the next epoch, printing one line per interval; returns the totals.
async fn drive(
    ctx: &Ctx,
    fleet: &Fleet,
    run: &Running,
    a: &CoverageAgentArgs,
) -> Result<serde_json::Value> {
    let first = run.schedule.epoch_at(wall_clock_ms()) + 1;
    eprintln!(
        "{} hotspots from epoch {first} (starts in {} s)",
        fleet.agents().len(),
        run.schedule
            .epoch_start_ms(first)
            .saturating_sub(wall_clock_ms())
            / 1000
    );
    let (mut beacons, mut witnesses, mut packets) = (0u64, 0u64, 0u64);
    let mut delivered = Delivery::default();
    let mut each = |r: &IntervalRun| {
        eprintln!(
            "epoch {} interval {}: {} beacons, {} witnesses, {} acknowledged, refused {:?}, {} undelivered",
            r.epoch, r.interval, r.beacons, r.witnesses, r.delivery.acknowledged,
            r.delivery.refused, r.delivery.undelivered
        );
        beacons += r.beacons;
        witnesses += r.witnesses;
        packets += r.packets;
        delivered.absorb(&r.delivery);
    };
    let oracle = OracleClient::new(&a.oracle);
    fleet::run(
        fleet,
        &ctx.client(),
        &oracle,
        &run.schedule,
        (first, a.epochs),
        wall_clock_ms,
        &mut each,
    )
    .await?;
    Ok(
        json!({"first_epoch": first, "beacons": beacons, "witnesses": witnesses, "packets": packets,
              "acknowledged": delivered.acknowledged, "undelivered": delivered.undelivered,
              "refused": delivered.refused}),
    )
}

async fn hotspot(ctx: &Ctx, a: HotspotArgs) -> Result<()> {
    let run = prepare(ctx, &a.common).await?;
    let device = open(&a.device_wallet)?.key;
    let view = ctx.client().device(&device.public().to_hex()).await?;
    let Some(cell) = view.location.as_deref() else {
        bail!("the device has no asserted location: assert one with `device assert-location`");
    };
    let location = Location::parse(cell)?;
    let antenna =
        view.gain_ddbi
            .zip(view.elevation_m)
            .map_or(DEFAULT_ANTENNA, |(gain_ddbi, elevation_m)| Antenna {
                gain_ddbi,
                elevation_m,
            });
    let agent = HotspotAgent {
        device,
        chain_id: run.chain_id.clone(),
        location,
        antenna,
        plan: plan_at(&run.catalog, location),
    };
    if agent.plan.is_empty() {
        bail!("no LoRaWAN region covers {cell}: this hotspot cannot beacon");
    }
    let radio = RadioParams {
        seed: a.common.radio_seed,
        ..RadioParams::default()
    };
    let fleet = Fleet::new(vec![agent], radio)?;
    let totals = drive(ctx, &fleet, &run, &a.common).await?;
    print(ctx.format, &totals)
}

fn fleet_seed(text: &str) -> [u8; 32] {
    depin_types::Hash32::digest(text.as_bytes()).0
}

async fn fleet(ctx: &Ctx, a: FleetArgs) -> Result<()> {
    let run = prepare(ctx, &a.common).await?;
    let owner = open(&ctx.wallet)?.key;
    let maker = open(&a.maker_wallet)?.key;
    let mut entries = read_hotspots(&a.hotspots)?;
    entries.truncate(a.limit.unwrap_or(usize::MAX));
    let antenna = Antenna {
        gain_ddbi: a.gain_ddbi,
        elevation_m: a.elevation_m,
    };
    let seed = fleet_seed(&a.seed);
    let members: Vec<(usize, SecretKey, _)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (i, device_key(&seed, i, e), e))
        .collect();
    let bar = progress_bar(members.len() as u64, "onboarding");
    let onboarder = Onboarder {
        node: &ctx.client(),
        owner: &owner,
        maker: &maker,
        class: CLASS,
        antenna,
    };
    let outcome = onboarder
        .onboard(&members, &|done, _| bar.set_position(done as u64))
        .await?;
    bar.finish_and_clear();
    let onboarding = onboarding_summary(&outcome, entries.len());
    eprintln!("onboarding: {onboarding}");
    let mut agents = Vec::new();
    for i in outcome.devices() {
        let Some(location) = entries[i].location().ok().flatten() else {
            continue;
        };
        agents.push(HotspotAgent {
            device: members[i].1.clone(),
            chain_id: run.chain_id.clone(),
            location,
            antenna,
            plan: plan_at(&run.catalog, location),
        });
    }
    let radio = RadioParams {
        seed: a.common.radio_seed,
        ..RadioParams::default()
    };
    let mut fleet = Fleet::new(agents, radio)?;
    if let Some(payer) = a.payer {
        fleet = fleet.with_traffic(Traffic {
            payer: payer.key,
            packets_per_interval: a.packets_per_interval,
            payload_bytes: a.packet_bytes,
        })?;
    }
    let mut totals = drive(ctx, &fleet, &run, &a.common).await?;
    totals["onboarding"] = onboarding;
    print(ctx.format, &totals)
}

fn onboarding_summary(
    o: &crate::agent::onboard::OnboardOutcome,
    entries: usize,
) -> serde_json::Value {
    let refused: BTreeMap<&str, usize> = o
        .refused
        .iter()
        .map(|(k, v)| (k.as_str(), v.len()))
        .collect();
    json!({"entries": entries, "onboarded": o.onboarded.len(), "existing": o.existing.len(),
           "refused": refused})
}

/// The hotspots file's entry locations, for `coverage hex-scales`.
///
/// Errors: unreadable file, or a location that is not an H3 res-12 cell.
pub fn hotspot_cells(path: &Path) -> Result<(usize, Vec<h3o::CellIndex>)> {
    let entries = read_hotspots(path)?;
    let mut cells = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let loc = e
            .location()
            .map_err(|reason| anyhow::anyhow!("entry {i}: {reason}"))?;
        if let Some(l) = loc {
            cells.push(h3o::CellIndex::try_from(l.index())?);
        }
    }
    Ok((entries.len(), cells))
}
