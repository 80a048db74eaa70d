// Preloaded into a CLI child (node --import) to make its clock run ahead of the
// rest of the world by CAM_TEST_CLOCK_OFFSET_MS: the stand-in's token expirations
// then lie in this process's past, as on a laptop whose clock is hours ahead.
const offset = Number(process.env.CAM_TEST_CLOCK_OFFSET_MS ?? 0);
const realNow = Date.now;
Date.now = () => realNow() + offset;
