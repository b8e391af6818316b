"""Take the README's screenshot: a Harbor Bank customer's branded call on a phone.

Starts a Frontdesk node and the bank on 127.0.0.1 (as ``frontdesk demo`` does,
brand included), then, in Debian's Chromium driven by Playwright: the customer
Ann signs in to the bank on a 375 px wide phone and asks to talk to an advisor
about a mortgage; the advisor alice, available in Frontdesk's console, accepts
the visit and the console lets her in; they exchange a line of chat; the
customer's page is saved as ``screenshot.png`` beside this file.

The cameras are not Chromium's test pattern: each browser is given a still of
its own (``stills/advisor.svg``: the advisor at her desk; ``stills/customer.svg``:
the customer at home), drawn in SVG, rendered by Chromium and turned into a
Y4M clip by ffmpeg in a temporary directory (nothing generated is kept but the
screenshot).

Run from the repository root, in a loopback-only network namespace so that
WebRTC's candidates are 127.0.0.1 alone (needs the ``dev`` extra, chromium and
ffmpeg)::

    scripts/in-netns .venv/bin/python examples/harbor_bank/screenshot.py [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STILLS = HERE / "stills"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]
CUSTOMER_SAYS = "Hello! I'd like to ask about a mortgage."
ADVISOR_SAYS = "Hi Ann, happy to help. Shall we look at fixed rates first?"
WAIT_MS = 20_000


def chromium() -> str:
    path = os.environ.get("FRONTDESK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        sys.exit("screenshot: Debian's chromium is needed (apt-get install chromium)")
    return path


async def camera_clip(pw: Any, svg: str, out: Path) -> Path:
    """An SVG picture (640x480) rendered by Chromium, made a two-second Y4M clip by
    ffmpeg: what Chromium's fake camera plays (in a loop) instead of its pattern."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("screenshot: ffmpeg is needed (apt-get install ffmpeg)")
    browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS[:3])
    try:
        page = await browser.new_page(viewport={"width": 640, "height": 480})
        await page.set_content(f"<body style='margin:0'>{svg}</body>")
        still = out.with_suffix(".png")
        await page.screenshot(path=str(still))
    finally:
        await browser.close()
    ffmpeg_run = await asyncio.create_subprocess_exec(
        *(ffmpeg, "-loglevel", "error", "-y", "-loop", "1", "-i", str(still)),
        *("-t", "2", "-r", "15", "-pix_fmt", "yuv420p", str(out)),
    )
    if await ffmpeg_run.wait() != 0:
        sys.exit(f"screenshot: ffmpeg could not make {out.name}")
    return out


async def shoot(out: Path, width: int, height: int) -> None:
    from playwright.async_api import async_playwright

    from frontdesk.cli.demo import (
        ADVISOR,
        CUSTOMER,
        find_bank,
        node_settings,
        open_the_bank,
        pick_port,
        serve_app,
    )
    from frontdesk.server.app import create_app

    bank = find_bank()
    stills = {w: (STILLS / f"{w}.svg").read_text(encoding="utf-8") for w in ("advisor", "customer")}
    with tempfile.TemporaryDirectory(prefix="harbor-shot-") as tmp:
        work = Path(tmp)
        fd_port, bk_port = pick_port(0), pick_port(0)
        origin = f"http://127.0.0.1:{bk_port}"
        node = create_app(node_settings(fd_port, origin, work))
        async with (
            async_playwright() as pw,
            serve_app(node, fd_port, ws=True) as frontdesk_url,
        ):
            clips = {
                who: await camera_clip(pw, svg, work / f"{who}.y4m") for who, svg in stills.items()
            }
            bank_app = await open_the_bank(bank, node, frontdesk_url, origin, work)
            async with serve_app(bank_app, bk_port) as bank_url:
                browsers = {
                    who: await pw.chromium.launch(
                        executable_path=chromium(),
                        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={clip}"],
                    )
                    for who, clip in clips.items()
                }
                try:
                    await _the_call(
                        browsers,
                        frontdesk_url,
                        bank_url,
                        out,
                        width,
                        height,
                        advisor=ADVISOR,
                        customer=CUSTOMER,
                    )
                finally:
                    for b in browsers.values():
                        await b.close()
                    # the console's long poll, cut at shutdown, is no error worth a trace
                    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)


async def _the_call(
    browsers: dict[str, Any],
    frontdesk_url: str,
    bank_url: str,
    out: Path,
    width: int,
    height: int,
    *,
    advisor: tuple[str, str, str],
    customer: tuple[str, str, str],
) -> None:
    phone = await browsers["customer"].new_context(
        viewport={"width": width, "height": height}, device_scale_factor=2, has_touch=True
    )
    ann = await phone.new_page()
    await ann.goto(f"{bank_url}/login")
    await ann.fill("#username", customer[0])
    await ann.fill("#password", customer[2])
    await ann.click("#sign-in")
    await ann.select_option("#topic", "mortgage")
    await ann.click("#talk-to-advisor")
    await ann.wait_for_function("() => window.harborMeeting?.state === 'lobby'", timeout=WAIT_MS)
    print("customer waiting in the queue")

    alice = await (await browsers["advisor"].new_context()).new_page()
    await alice.goto(f"{frontdesk_url}/console")
    await alice.fill("#username", advisor[0])
    await alice.fill("#password", advisor[2])
    await alice.click("#signin-button")
    await alice.locator("#agent-state").wait_for(timeout=WAIT_MS)
    await alice.select_option("#agent-state", "available")
    await alice.locator("#offer").wait_for(timeout=WAIT_MS)
    await alice.click("#offer-accept")
    print("advisor accepted the visit")

    await ann.wait_for_function("() => window.harborMeeting.state === 'joined'", timeout=WAIT_MS)
    for video in ("#remote-video", "#local-video"):
        await ann.wait_for_function(
            f"() => document.querySelector('{video}').videoWidth > 0", timeout=WAIT_MS
        )
    await ann.locator("#status", has_text=f"You are talking to {advisor[1]}").wait_for(
        timeout=WAIT_MS
    )
    await ann.fill("#chat-input", CUSTOMER_SAYS)
    await ann.click("#chat-send")
    await alice.wait_for_function(
        f"() => window.frontdeskMeeting.chat.some((m) => m.text === {json.dumps(CUSTOMER_SAYS)})",
        timeout=WAIT_MS,
    )
    await alice.evaluate(f"window.frontdeskMeeting.sendChat({json.dumps(ADVISOR_SAYS)})")
    await ann.locator("#chat li", has_text=ADVISOR_SAYS).wait_for(timeout=WAIT_MS)
    await ann.evaluate("() => document.activeElement?.blur()")  # no focus ring in the picture
    await ann.wait_for_timeout(1500)  # a few frames at full quality
    png = await ann.screenshot(path=str(out))
    print(f"saved {out} ({len(png) // 1024} KiB)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=HERE / "screenshot.png")
    parser.add_argument("--width", type=int, default=375, help="CSS pixels (375: a phone)")
    parser.add_argument("--height", type=int, default=667)
    args = parser.parse_args(argv)
    asyncio.run(shoot(args.out.resolve(), args.width, args.height))


if __name__ == "__main__":
    main()
