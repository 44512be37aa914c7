"""The browsers the web UI's Chromium tests open pages in, as Playwright's ``new_context`` takes them."""

IPHONE_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1"
)
IPHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": IPHONE_AGENT,
}
SMALL_IPHONE = {**IPHONE, "viewport": {"width": 375, "height": 667}}
LAPTOP = {"viewport": {"width": 1280, "height": 800}}
