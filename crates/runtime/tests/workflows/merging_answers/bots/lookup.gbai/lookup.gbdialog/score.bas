PARAM amount AS NUMBER
RETURN {"score": amount + 1, "seen_customer": customer ?? "not sent"}
