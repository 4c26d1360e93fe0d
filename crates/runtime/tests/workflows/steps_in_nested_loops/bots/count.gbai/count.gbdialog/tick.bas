PARAM n AS NUMBER
RETURN {"n": n, "item": item ?? ""}
