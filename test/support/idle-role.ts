// A role that does nothing until SIGTERM: lets tests drive the supervisor's RoleProcess.
const timer = setInterval(() => undefined, 1000);
process.on('SIGTERM', () => {
  clearInterval(timer);
  process.exit(0);
});
