"""Nothing clipped: the dashboard, the start page, the status report and its print view in Debian's
chromium (locale da-DK) at a laptop's 1366×768 and a phone's 390×844, as the working group and as an
ambassador, in Danish and English.

- Every ``<text>`` of every SVG lies inside the SVG's viewBox (the trend chart's "Mål 66" label).
- No box cuts its content off: a box whose content is taller than the box is only allowed as a
  deliberate scroll region (focusable, with a role and a name: keyboard users can scroll it, screen
  readers announce it); a wide table may scroll sideways in its own box on a phone, never on a
  laptop, and only where the keyboard reaches it. The page itself never scrolls sideways.
- The print view on A4 shows every column, "Hele landet" last, inside the page width.
"""
import pytest

from tests.browser_support import browser_context, demo_app, live_server, require_chromium, sign_in

pytestmark = pytest.mark.browser

ROLES = {"working_group": "arbejdsgruppe@demo.ips.dk", "ambassador": "hovedstaden@demo.ips.dk"}
VIEWPORTS = {"laptop": (1366, 768), "phone": (390, 844)}
PRINT_URL = "/rapporter/udskrift?start=2026-01-01&end=2026-06-30"
PAGES = ["/overblik/", "/overblik/?on=30-06-2025", "/", "/rapporter/?start=2026-01-01&end=2026-06-30", PRINT_URL]
A4_PORTRAIT_CONTENT_PX = 718  # 210 mm less 2 × 10 mm margins at 96 CSS px per inch (reports.css @page)

# Runs in the page: every clipped thing as a sentence. ``laptop`` forbids sideways scroll boxes too.
CLIPPED = r"""
(laptop) => {
  const problems = [];
  const name = (el) => {
    const cls = (el.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean).join('.');
    const caption = el.querySelector('caption, h2, h3, th');
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (cls ? '.' + cls : '')
      + (caption ? ' «' + caption.textContent.trim().slice(0, 50) + '»' : '');
  };
  document.querySelectorAll('details').forEach((d) => { d.open = true; });  // check what they hide too

  for (const svg of document.querySelectorAll('svg[viewBox]')) {
    if (!svg.getClientRects().length) continue;
    const vb = svg.viewBox.baseVal;
    const toSvg = svg.getScreenCTM().inverse();
    for (const text of svg.querySelectorAll('text')) {
      const box = text.getBBox();
      if (!box.width) continue;
      const m = toSvg.multiply(text.getScreenCTM());
      const xs = [], ys = [];
      for (const [x, y] of [[box.x, box.y], [box.x + box.width, box.y], [box.x, box.y + box.height], [box.x + box.width, box.y + box.height]]) {
        const p = new DOMPoint(x, y).matrixTransform(m); xs.push(p.x); ys.push(p.y);
      }
      const [left, right, top, bottom] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
      if (left < vb.x || right > vb.x + vb.width || top < vb.y || bottom > vb.y + vb.height) {
        problems.push(`SVG ${name(svg)}: text «${text.textContent.trim()}» spans x ${left.toFixed(1)}–${right.toFixed(1)}, `
          + `y ${top.toFixed(1)}–${bottom.toFixed(1)} outside its viewBox ${vb.x} ${vb.y} ${vb.width} ${vb.height}`);
      }
    }
  }

  const focusable = 'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])';
  const named = (el) => el.tabIndex >= 0 && el.getAttribute('role') && (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby'));
  for (const el of document.querySelectorAll('body *')) {
    if (!el.getClientRects().length || el.closest('svg') || el.clientWidth <= 1) continue;  // 1 px: visually-hidden
    const style = getComputedStyle(el);
    const scrolls = (value) => value === 'auto' || value === 'scroll';
    if (el.scrollHeight > el.clientHeight + 1 && style.overflowY !== 'visible') {
      if (!(scrolls(style.overflowY) && named(el))) {
        problems.push(`${name(el)}: content ${el.scrollHeight} px tall in a ${el.clientHeight} px box (overflow-y ${style.overflowY})`);
      }
    }
    if (el.scrollWidth > el.clientWidth + 1 && style.overflowX !== 'visible') {
      if (laptop) {
        problems.push(`${name(el)}: content ${el.scrollWidth} px wide in a ${el.clientWidth} px box at a laptop's width`);
      } else if (!(scrolls(style.overflowX) && (named(el) || el.querySelector(focusable)))) {
        problems.push(`${name(el)}: content ${el.scrollWidth} px wide in a ${el.clientWidth} px box the keyboard cannot scroll`);
      }
    }
  }
  if (document.documentElement.scrollWidth > innerWidth) {
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide in a ${innerWidth} px window`);
  }
  return problems;
}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo app served on localhost for the whole module."""
    require_chromium()
    app = demo_app(tmp_path_factory.mktemp("fit"))
    with live_server(app) as base_url:
        yield base_url


def _clipped(page, base_url: str, viewport: str) -> list[str]:
    width, height = VIEWPORTS[viewport]
    page.set_viewport_size({"width": width, "height": height})
    problems = []
    for url in PAGES:
        response = page.goto(base_url + url, wait_until="load")
        assert response and response.status == 200, url
        problems += [f"{url} ({viewport}): {p}" for p in page.evaluate(CLIPPED, viewport == "laptop")]
        if viewport == "phone" and url == PAGES[0]:
            problems += _axe_problems(page, url)  # with every <details> opened: the scroll regions too
    return problems


def _axe_problems(page, url: str) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 A/AA findings (scroll regions must be focusable)."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
    return [f"{url}: axe {v['id']} ({v['impact']}) at {v['nodes'][0]['target']}"
            for v in result.response["violations"] if v["impact"] in {"serious", "critical"}]


@pytest.mark.parametrize("role", ROLES)
def test_nothing_is_clipped_on_laptop_and_phone(site, role):
    """The dashboard (today and a past date), the start page, the status report and its print view,
    in Danish and then in English (longer labels such as "Target 66")."""
    problems = []
    with browser_context(viewport={"width": 1366, "height": 768}) as page:
        sign_in(page, site, ROLES[role])
        for viewport in VIEWPORTS:
            problems += _clipped(page, site, viewport)
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(site + "/account")
        with page.expect_navigation():
            page.locator("form[action$='/language/en'] button:visible").first.click()
        assert page.evaluate("document.documentElement.lang") == "en"
        for viewport in VIEWPORTS:
            problems += [f"[en] {p}" for p in _clipped(page, site, viewport)]
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(site + "/account")
        with page.expect_navigation():  # back to Danish: the language is kept on the user
            page.locator("form[action$='/language/da'] button:visible").first.click()
    assert not problems, "\n".join(problems)


def test_print_view_shows_hele_landet_on_a4(site):
    """Printed (print media, the width of an A4 page inside its margins) the figures table fits:
    its last column, "Hele landet", ends inside the page, nothing is hidden in a scroll box."""
    with browser_context(viewport={"width": A4_PORTRAIT_CONTENT_PX, "height": 1000}) as page:
        sign_in(page, site, "admin@demo.ips.dk")  # a user the language test above leaves alone
        page.goto(site + PRINT_URL)
        page.emulate_media(media="print")
        last = page.locator(".report-table thead th").last
        assert last.inner_text().split() == ["Hele", "landet"]
        assert last.is_visible()
        box = last.bounding_box()
        assert box["x"] + box["width"] <= A4_PORTRAIT_CONTENT_PX
        assert page.evaluate("document.documentElement.scrollWidth") <= A4_PORTRAIT_CONTENT_PX
        assert page.evaluate(CLIPPED, True) == []
        total = page.locator('.report-table td[data-metric="municipalities_total"][data-column="total"]')
        assert total.inner_text() == "98" and total.is_visible()
        total_box = total.bounding_box()
        assert total_box["x"] + total_box["width"] <= A4_PORTRAIT_CONTENT_PX
