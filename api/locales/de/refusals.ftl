# refusals (de)
