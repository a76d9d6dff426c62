// Placeholder so the integration project runs before the real global setup exists;
// the lead replaces it with the one that starts the control plane and the CA.
export default async function setup() {}
