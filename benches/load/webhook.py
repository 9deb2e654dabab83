"""The original design's handler, for `benches/gateway-sustained.sh`: what
the Python seed's TradingView webhook does before execution (verify the
HMAC, parse, validate), under FastAPI + uvicorn. Same signed alerts as the
gateway (the `timestamped` scheme: HMAC-SHA256 over "<t>.<body>").

    uvicorn --workers 2 webhook:app   (ALERTGATE_LOAD_SECRET in the environment)
"""

import hashlib
import hmac
import json
import os
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SECRET = os.environ["ALERTGATE_LOAD_SECRET"].encode()
TOLERANCE_S = 300
STALE_S = 300
FUTURE_SKEW_S = 60
SYMBOLS = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"}
MAX_QUANTITY = Decimal("1000")
MAX_ORDER_VALUE = Decimal("1000000")
ORDER_TYPES = {"market", "limit", "stop", "stop_limit"}

app = FastAPI()


def refuse(status, code):
    return JSONResponse({"accepted": False, "code": code}, status_code=status)


def verify(header, body):
    """t=<unix s>,s=<hex>: fresh, and the HMAC matches (constant time)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, sig = parts.get("t"), parts.get("s")
    if not t or not sig or not t.isdigit():
        return "missing_signature"
    if abs(time.time() - int(t)) > TOLERANCE_S:
        return "stale_signature"
    mac = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(mac, sig) else "bad_signature"


def validate(data):
    """The seed's checks: required fields, side, type, quantity, symbol
    allowlist, order value, staleness and future skew."""
    for field in ("ticker", "action", "type", "qty", "time"):
        if field not in data:
            return "missing_field"
    if data["action"] not in ("buy", "sell"):
        return "bad_side"
    if data["type"] not in ORDER_TYPES:
        return "bad_order_type"
    try:
        qty = Decimal(str(data["qty"]))
        price = Decimal(str(data["price"])) if "price" in data else None
    except InvalidOperation:
        return "bad_number"
    if qty <= 0 or qty > MAX_QUANTITY:
        return "quantity_out_of_range"
    if data["ticker"] not in SYMBOLS:
        return "symbol_not_allowed"
    if data["type"] != "market" and price is None:
        return "missing_price"
    if price is not None and qty * price > MAX_ORDER_VALUE:
        return "order_value_too_large"
    try:
        stamp = datetime.fromisoformat(data["time"].replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return "bad_time"
    age = time.time() - stamp
    if age > STALE_S:
        return "stale_alert"
    if age < -FUTURE_SKEW_S:
        return "future_alert"
    return None


@app.post("/webhook")
async def webhook(request: Request):
    body = await request.body()
    problem = verify(request.headers.get("x-tradeeon-signature", ""), body)
    if problem:
        return refuse(401, problem)
    try:
        data = json.loads(body)
    except ValueError:
        return refuse(400, "invalid_json")
    if not isinstance(data, dict):
        return refuse(400, "invalid_json")
    problem = validate(data)
    if problem:
        return refuse(422, problem)
    return {"accepted": True, "code": "accepted"}
