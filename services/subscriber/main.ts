import { main } from "../../shared/service.js";
import { definition } from "./service.js";

main(definition());
