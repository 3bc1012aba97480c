import { ConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { storeSuite } from "./storeSuite.js"

storeSuite("ConversationStoreMemory", ConversationStoreMemory)
