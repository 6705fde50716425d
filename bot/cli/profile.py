"""``paperbot profile``: see and reset what a channel's feedback taught paperbot."""

from __future__ import annotations

import click
from rich.table import Table

from bot.cli.runtime import Runtime, fail, readable_errors

__all__ = ["profile", "resolve_team"]


def resolve_team(rt: Runtime, channel: str, team: str | None) -> str:
    """The workspace a command means: ``--team`` when given, else the only one in which
    the channel has a profile or a subscription (several or none: say so)."""
    if team:
        return team
    teams = rt.store.channel_teams(channel)
    if len(teams) == 1:
        return teams[0]
    if not teams:
        fail(
            f"channel {channel} has no profile or subscription in any workspace",
            hint="check the channel id (like C0123ABCD), or give --team",
        )
    fail(
        f"channel {channel} is in {len(teams)} workspaces: {', '.join(teams)}",
        hint="give --team to choose one",
    )


_CHANNEL = click.option("--channel", required=True, help="The channel's id, like C0123ABCD.")
_TEAM = click.option(
    "--team", help="The workspace's id (needed only when the channel id is in several)."
)


@click.group()
def profile() -> None:
    """See and reset what a channel's feedback (likes, mutes, imports) taught paperbot."""


@profile.command()
@_CHANNEL
@_TEAM
@click.pass_context
def show(ctx: click.Context, channel: str, team: str | None) -> None:
    """Show a channel's liked and muted papers, its strongest terms and when it changed."""
    from digests.digest import profile_report

    rt = ctx.find_object(Runtime)
    assert rt is not None
    with readable_errors():
        team_id = resolve_team(rt, channel, team)
        report = profile_report(rt.store, (team_id, channel), now=rt.clock())
    out = rt.out
    if report.empty:
        out.print(f"Channel {channel} ({team_id}) has no profile yet: no likes, mutes or imports.")
        if report.reset_at is not None:
            out.print(f"Last reset {report.reset_at:%Y-%m-%d %H:%M} UTC.")
        return
    changed = f"{report.changed_at:%Y-%m-%d %H:%M} UTC" if report.changed_at else "never"
    out.print(f"Profile of channel {channel} ({team_id}), last changed {changed}")
    if report.liked:
        table = Table(title=f"{len(report.liked)} liked", title_justify="left", expand=False)
        table.add_column("paper", overflow="fold")
        table.add_column("votes", justify="right")
        for title, votes in report.liked:
            table.add_row(title, str(votes))
        out.print(table)
    if report.muted:
        table = Table(
            title=f"{len(report.muted)} muted (never posted here again)", title_justify="left"
        )
        table.add_column("paper", overflow="fold")
        for title in report.muted:
            table.add_row(title)
        out.print(table)
    if report.terms:
        out.print("Strongest terms: " + ", ".join(report.terms), soft_wrap=False)


@profile.command()
@_CHANNEL
@_TEAM
@click.option("--yes", is_flag=True, help="Reset without asking.")
@click.pass_context
def reset(ctx: click.Context, channel: str, team: str | None, yes: bool) -> None:
    """Forget every like, mute and import of a channel (saved papers stay)."""
    rt = ctx.find_object(Runtime)
    assert rt is not None
    with readable_errors():
        team_id = resolve_team(rt, channel, team)
        if not yes and not click.confirm(
            f"Forget every like, mute and import of channel {channel} ({team_id})?",
            default=False,
        ):
            rt.out.print("Nothing was reset.")
            return
        gone = rt.store.reset_profile(team_id, channel, now=rt.clock())
    rt.out.print(
        f"Profile of channel {channel} ({team_id}) reset: "
        f"{gone} verdict{'s' if gone != 1 else ''} forgotten."
    )
