# refusals (en)
