//! The commands a resource module adds to `depin`: top-level nouns (`depin storage put …`)
//! and agent roles (`depin agent storage …`). A module's registration carries one
//! [`ModuleCli`]; the binary attaches every module's commands to its own with
//! [`ModuleCommands::attach`] and runs the one given with [`ModuleCommands::dispatch`].
//!
//! Commands are clap builder values, so a module writes them with the derive API
//! ([`noun`], [`role`]) and reads its arguments back with [`parse`].

use crate::Ctx;
use anyhow::Result;
use clap::{ArgMatches, Command};
use std::future::Future;
use std::pin::Pin;

/// Name of the binary's command that holds every agent role.
pub const AGENT_COMMAND: &str = "agent";
/// Most commands (nouns plus agent roles) all modules together add.
pub const MAX_MODULE_COMMANDS: usize = 256;

/// What running a module command returns.
pub type CliFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// Runs one of a module's commands: the global options, the command's name and its matches.
pub type RunFn = for<'a> fn(&'a Ctx, &'a str, &'a ArgMatches) -> CliFuture<'a>;

/// The commands of one module.
#[derive(Clone, Copy)]
pub struct ModuleCli {
    /// Top-level nouns, each with its verbs as subcommands (e.g. `storage`).
    pub commands: fn() -> Vec<Command>,
    /// Runs one of `commands` (given its name).
    pub run_command: RunFn,
    /// Agent roles: subcommands of `depin agent` (e.g. `storage`, `hotspot`).
    pub agents: fn() -> Vec<Command>,
    /// Runs one of `agents` (given its name).
    pub run_agent: RunFn,
}

/// A noun `name` whose verbs are the subcommands of `V` (one is required).
///
/// `about` is its help line: set after the derive's, which would otherwise take the type's doc
/// comment.
pub fn noun<V: clap::Subcommand>(name: &'static str, about: &'static str) -> Command {
    V::augment_subcommands(Command::new(name))
        .about(about)
        .long_about(None)
        .subcommand_required(true)
        .arg_required_else_help(true)
}

/// An agent role `name` taking the arguments of `A`, with the help line `about` (as [`noun`]).
pub fn role<A: clap::Args>(name: &'static str, about: &'static str) -> Command {
    A::augment_args(Command::new(name))
        .about(about)
        .long_about(None)
}

/// The value of a [`noun`]'s or [`role`]'s matches.
///
/// Errors: matches of another command (a wiring mistake, not user input: clap has checked
/// the arguments already).
pub fn parse<T: clap::FromArgMatches>(matches: &ArgMatches) -> Result<T> {
    Ok(T::from_arg_matches(matches)?)
}

/// Every module's commands, each with the function that runs it.
#[derive(Default)]
pub struct ModuleCommands {
    nouns: Vec<(Command, RunFn)>,
    agents: Vec<(Command, RunFn)>,
}

impl ModuleCommands {
    /// The commands of `clis` (in order).
    ///
    /// Errors: two modules (or one twice) with a noun or agent role of one name, or more
    /// than [`MAX_MODULE_COMMANDS`].
    pub fn new<'a>(
        clis: impl IntoIterator<Item = &'a ModuleCli>,
    ) -> Result<ModuleCommands, String> {
        let mut out = ModuleCommands::default();
        for cli in clis {
            out.nouns
                .extend((cli.commands)().into_iter().map(|c| (c, cli.run_command)));
            out.agents
                .extend((cli.agents)().into_iter().map(|c| (c, cli.run_agent)));
        }
        if out.nouns.len() + out.agents.len() > MAX_MODULE_COMMANDS {
            return Err(format!("more than {MAX_MODULE_COMMANDS} module commands"));
        }
        first_duplicate(&out.nouns, "command")?;
        first_duplicate(&out.agents, "agent role")?;
        Ok(out)
    }

    /// `root` with every noun as a subcommand and an `agent` command holding every role.
    ///
    /// Errors: a noun named like one of `root`'s own commands (or `agent`).
    pub fn attach(&self, root: Command) -> Result<Command, String> {
        let mut root = root;
        for (noun, _) in &self.nouns {
            let name = noun.get_name();
            if name == AGENT_COMMAND || root.find_subcommand(name).is_some() {
                return Err(format!("module command {name} clashes with a core command"));
            }
            root = root.subcommand(noun.clone());
        }
        let agent = self.agents.iter().fold(
            Command::new(AGENT_COMMAND)
                .about("Device agents (each module's device software).")
                .subcommand_required(true)
                .arg_required_else_help(true),
            |agent, (role, _)| agent.subcommand(role.clone()),
        );
        Ok(root.subcommand(agent))
    }

    /// Runs the module command `matches` (the root's) names, or `None` if it names none.
    pub fn dispatch<'a>(&self, ctx: &'a Ctx, matches: &'a ArgMatches) -> Option<CliFuture<'a>> {
        let (name, sub) = matches.subcommand()?;
        if name == AGENT_COMMAND {
            let (role, role_matches) = sub.subcommand()?;
            let (_, run) = self.agents.iter().find(|(c, _)| c.get_name() == role)?;
            return Some(run(ctx, role, role_matches));
        }
        let (_, run) = self.nouns.iter().find(|(c, _)| c.get_name() == name)?;
        Some(run(ctx, name, sub))
    }
}

fn first_duplicate(commands: &[(Command, RunFn)], what: &str) -> Result<(), String> {
    for (at, (command, _)) in commands.iter().enumerate() {
        let name = command.get_name();
        if commands[..at]
            .iter()
            .any(|(other, _)| other.get_name() == name)
        {
            return Err(format!("two modules add the {what} {name}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verbs (a doc comment the derive would take as the noun's help).
    #[derive(clap::Subcommand, Debug, PartialEq)]
    enum Verbs {
        /// Say a word.
        Say {
            /// The word.
            word: String,
        },
    }

    /// The role's arguments (a doc comment the derive would take as the role's help).
    #[derive(clap::Args, Debug, PartialEq)]
    struct RoleArgs {
        /// How many times.
        #[arg(long, default_value_t = 1)]
        times: u32,
    }

    fn run_noun<'a>(_: &'a Ctx, name: &'a str, matches: &'a ArgMatches) -> CliFuture<'a> {
        Box::pin(async move {
            let Verbs::Say { word } = parse::<Verbs>(matches)?;
            anyhow::ensure!(name == "echo" && word == "hello", "wrong dispatch");
            Ok(())
        })
    }

    fn run_role<'a>(_: &'a Ctx, name: &'a str, matches: &'a ArgMatches) -> CliFuture<'a> {
        Box::pin(async move {
            let args = parse::<RoleArgs>(matches)?;
            anyhow::ensure!(name == "beeper" && args.times == 3, "wrong dispatch");
            Ok(())
        })
    }

    fn echo() -> ModuleCli {
        ModuleCli {
            commands: || vec![noun::<Verbs>("echo", "Echo.")],
            run_command: run_noun,
            agents: || vec![role::<RoleArgs>("beeper", "Beep.")],
            run_agent: run_role,
        }
    }

    fn ctx() -> Ctx {
        Ctx {
            format: crate::Format::Json,
            node: String::new(),
            wallet: "w.json".into(),
            log_format: "terminal".into(),
        }
    }

    fn block_on(future: CliFuture<'_>) -> Result<()> {
        // The futures above never wait, so one poll finishes them.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut future = future;
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(result) => result,
            std::task::Poll::Pending => anyhow::bail!("pending"),
        }
    }

    #[test]
    fn a_module_noun_and_agent_role_are_parsed_and_dispatched_to_the_module() {
        let commands = ModuleCommands::new([&echo()]).unwrap();
        let root = commands.attach(Command::new("depin")).unwrap();
        let about = |command: &Command| command.get_about().map(ToString::to_string);
        let echo = root.find_subcommand("echo").unwrap();
        assert_eq!(about(echo).as_deref(), Some("Echo."), "the given help line");
        let agent = root.find_subcommand(AGENT_COMMAND).unwrap();
        let beeper = agent.find_subcommand("beeper").unwrap();
        assert_eq!(about(beeper).as_deref(), Some("Beep."));
        let ctx = ctx();
        let matches = root
            .clone()
            .try_get_matches_from(["depin", "echo", "say", "hello"])
            .unwrap();
        block_on(commands.dispatch(&ctx, &matches).expect("a module command")).unwrap();
        let matches = root
            .try_get_matches_from(["depin", "agent", "beeper", "--times", "3"])
            .unwrap();
        block_on(commands.dispatch(&ctx, &matches).expect("an agent role")).unwrap();
    }

    #[test]
    fn a_core_command_is_not_dispatched_to_modules() {
        let commands = ModuleCommands::new([&echo()]).unwrap();
        let root = Command::new("depin").subcommand(Command::new("wallet"));
        let root = commands.attach(root).unwrap();
        let matches = root.try_get_matches_from(["depin", "wallet"]).unwrap();
        assert!(commands.dispatch(&ctx(), &matches).is_none());
    }

    #[test]
    fn two_modules_with_one_command_name_are_refused() {
        let err = ModuleCommands::new([&echo(), &echo()]).err().unwrap();
        assert_eq!(err, "two modules add the command echo");
    }

    #[test]
    fn a_module_command_named_like_a_core_command_is_refused() {
        let commands = ModuleCommands::new([&echo()]).unwrap();
        let root = Command::new("depin").subcommand(Command::new("echo"));
        let err = commands.attach(root).err().unwrap();
        assert_eq!(err, "module command echo clashes with a core command");
    }
}
