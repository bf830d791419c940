// Run by the mongo image's entrypoint (mongosh, as the root user) once, when the data volume is empty.
// The hub gets its own account on its own database: it creates its collections and indexes there
// (readWrite), and nothing else.
const username = process.env.MONGO_FIELDHUB_USERNAME;
const password = process.env.MONGO_FIELDHUB_PASSWORD;
if (!username || !password) {
  throw new Error("MONGO_FIELDHUB_USERNAME and MONGO_FIELDHUB_PASSWORD must be set (compose/.env)");
}
db.getSiblingDB("fieldhub").createUser({
  user: username,
  pwd: password,
  roles: [{ role: "readWrite", db: "fieldhub" }],
});
print(`created the MongoDB user ${username} on database fieldhub`);
