-- Argo CD health check for certkeeper's Issuer, ClusterIssuer and Certificate
-- (resource.customizations.health.certkeeper.io_<Kind> in argocd-cm).
-- It reads the same status kstatus (Flux) reads:
--   Progressing  no status yet, a spec change not yet observed, or Ready not True
--                (the first issuance or registration is still running, or certkeeper retries)
--   Degraded     Stalled=True: the state needs a person (the message says what to do)
--   Healthy      Ready=True for the current generation
local health = { status = "Progressing", message = "Waiting for certkeeper to report a status" }
local status = obj.status
if status == nil then
  return health
end
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration ~= generation then
  health.message = "Waiting for certkeeper to observe generation " .. tostring(generation)
  return health
end
local ready = nil
local stalled = nil
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    elseif condition.type == "Stalled" and condition.status == "True" then
      stalled = condition
    end
  end
end
if stalled ~= nil then
  health.status = "Degraded"
  health.message = stalled.message
  return health
end
if ready ~= nil then
  health.message = ready.message
  local current = generation == nil or ready.observedGeneration == nil or ready.observedGeneration == generation
  if ready.status == "True" and current then
    health.status = "Healthy"
  end
end
return health
