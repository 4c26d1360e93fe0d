PARAM customer AS STRING
RETURN {"name": UPPER(customer), "tier": "gold"}
