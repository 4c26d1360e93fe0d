x = 1 / 0
RETURN {"never": TRUE}
